// Grounding overlays: the server draws every candidate convention's boxes (one <g> each) over
// every input image; this only shows and hides them, from the panel's controls:
// a label's checkbox, a group's convention <select>, and the image <select>.
document.addEventListener("change", (event) => {
  const el = event.target;
  const panel = el.closest(".gr-panel");
  if (!panel) return;
  const overlays = document.querySelectorAll(`svg.gr-overlay[data-grounding="${panel.dataset.grounding}"]`);
  const show = (node, on) => (on ? node.removeAttribute("display") : node.setAttribute("display", "none"));
  if (el.dataset.grLabel) {
    for (const svg of overlays) {
      for (const shape of svg.querySelectorAll(`.gr-shape[data-label="${el.dataset.grLabel}"]`)) show(shape, el.checked);
    }
  } else if (el.dataset.grGroup) {
    for (const svg of overlays) {
      for (const layer of svg.querySelectorAll(`.gr-layer[data-group="${el.dataset.grGroup}"]`)) {
        show(layer, layer.dataset.conv === el.value);
      }
    }
  } else if (el.hasAttribute("data-gr-image")) {
    for (const svg of overlays) show(svg, svg.dataset.image === el.value);
  }
});
