// Iris image viewer (templates/logs_ui/viewer.html): opens the request page's images full size in
// a <dialog>. Zoom and pan are one transform, translate(x, y) scale(s), kept in the first image's
// pixels; a compared image is scaled by k so that both cover the same area and move together.
// Animated images are decoded frame by frame with ImageDecoder (WebCodecs) where the browser has
// it; elsewhere they play as the browser plays them, without stepping. No library, no build.
(() => {
  "use strict";
  const dialog = document.getElementById("viewer");
  if (!dialog || !dialog.showModal) return; // no <dialog>: the links open the images as before
  const LINKS = [
    'a[title="Open full size"]', // image cards, partial images
    ".img-frame > a:has(> img.live)", // URL images shown live
    ".doc-page > a", // a PDF's pages
    ".prompt-vars a:has(> img)", // a prompt's image variables
  ].join(", ");
  const SEEN = ".seen-pic img"; // "as the model saw it", fetched into the card by htmx
  const ANIMATABLE = new Set(["image/gif", "image/webp", "image/png", "image/apng", "image/avif"]);
  const STEP = 1.5; // a button's or key's zoom factor
  const $ = (sel) => dialog.querySelector(sel);
  const abs = (url) => new URL(url, location.href).href;
  const note = $(".v-note");
  const reduced = matchMedia("(prefers-reduced-motion: reduce)").matches;

  /** One image the viewer can show: where its pixels are, its name, its card. */
  function itemFor(el) {
    const img = el.tagName === "IMG" ? el : el.querySelector("img");
    const card = el.closest(".img-card");
    let url = abs(el.tagName === "IMG" ? img.currentSrc || img.src : el.href);
    let label = img ? img.alt : el.textContent.trim();
    if (el.closest(".doc-page")) { // the link is a page about the page: open its picture, large
      url = abs(img.src).replace(/-\d+\.webp$/, `-${dialog.dataset.pageSize}.webp`);
      const doc = el.closest(".doc-card")?.querySelector(".img-label");
      if (doc) label = `${doc.textContent.replace(/^\s*PDF\s*/, "").trim()} · ${label}`;
    }
    // The card's toggle fetches seen-images/<id>/ (the picture and its grid); its pixels are at <id>.webp.
    const toggle = card?.querySelector(".seen-toggle input[hx-get]")?.getAttribute("hx-get");
    return {
      el, url, label,
      open: el.tagName === "A" ? el.href : url,
      role: card?.dataset.role || (el.closest(".doc-card") ? "document" : ""),
      seen: toggle && !el.matches(SEEN) ? abs(toggle.replace(/\/$/, ".webp")) : "",
    };
  }
  const seenOf = (item) => ({
    el: item.el, url: item.seen, open: item.seen, role: "seen", seen: "",
    label: `${item.label}, as the model saw it`,
  });
  const gallery = () => [...document.querySelectorAll(LINKS)].filter((a) => a.querySelector("img")).map(itemFor);

  /** A stage showing one image (an <img>, or a <canvas> for a decoded animation). */
  class Pane {
    constructor(el) {
      // The <img> and <canvas> join the page when first used: until then it holds only its own images.
      Object.assign(this, {
        el, stage: el.querySelector(".v-stage"), cap: el.querySelector(".v-cap"),
        img: Object.assign(new Image(), { alt: "", draggable: false }),
        canvas: Object.assign(document.createElement("canvas"), { hidden: true }),
        w: 1, h: 1, k: 1, anim: null, token: 0, overlay: null,
      });
    }
    async load(item, animate) {
      const token = ++this.token;
      this.stop();
      if (!this.img.isConnected) this.stage.prepend(this.img, this.canvas);
      this.canvas.hidden = true;
      this.img.hidden = false;
      this.img.alt = item.label;
      this.stage.setAttribute("aria-label", item.label);
      this.cap.textContent = item.label;
      this.img.src = item.url;
      try { await this.img.decode(); } catch { /* a broken image: shown as the browser shows it */ }
      if (token !== this.token) return false;
      this.w = this.img.naturalWidth || 1;
      this.h = this.img.naturalHeight || 1;
      this.overlay?.remove();
      // The card's grounding boxes (drawn in the image's pixels) go along, zoomed with it.
      const boxes = item.role !== "seen" && item.el.closest(".img-card")?.querySelector("svg.gr-overlay");
      this.overlay = boxes ? Object.assign(boxes.cloneNode(true), { id: "" }) : null;
      if (this.overlay) {
        this.overlay.classList.add("v-overlay");
        Object.assign(this.overlay.style, { width: `${this.w}px`, height: `${this.h}px` });
        this.stage.append(this.overlay);
      }
      if (animate) await this.decode(item, token).catch(() => this.stop());
      return token === this.token;
    }
    async decode(item, token) {
      const url = item.url;
      if (!("ImageDecoder" in window)) {
        if (/animated/.test(item.el.closest(".img-card")?.querySelector(".img-facts")?.textContent)) {
          say("This browser cannot step through frames (no ImageDecoder): an animation plays as the browser plays it.");
        }
        return;
      }
      const res = await fetch(url, { credentials: "same-origin" });
      const type = (res.headers.get("content-type") || "").split(";")[0].trim();
      if (!res.ok || !ANIMATABLE.has(type) || !(await ImageDecoder.isTypeSupported(type))) {
        res.body?.cancel();
        return;
      }
      const decoder = new ImageDecoder({ data: await res.arrayBuffer(), type });
      await decoder.tracks.ready;
      const track = decoder.tracks.selectedTrack;
      if (track?.animated) await decoder.completed; // the frame count is final
      if (token !== this.token || !track?.animated || track.frameCount < 2) return decoder.close();
      this.anim = { decoder, count: track.frameCount, frame: -1, delay: 100, playing: false, timer: 0 };
      this.canvas.width = this.w;
      this.canvas.height = this.h;
      await this.draw(0);
      this.img.hidden = true;
      this.canvas.hidden = false;
    }
    async draw(n) {
      const anim = this.anim;
      const { image } = await anim.decoder.decode({ frameIndex: n });
      if (anim === this.anim) {
        const ctx = this.canvas.getContext("2d");
        ctx.clearRect(0, 0, this.w, this.h);
        ctx.drawImage(image, 0, 0, this.w, this.h);
        anim.frame = n;
        const ms = (image.duration || 0) / 1000; // as browsers do: 10 ms or less plays at 100 ms
        anim.delay = ms > 10 ? ms : 100;
        showFrame();
      }
      image.close();
    }
    play(on) {
      const anim = this.anim;
      if (!anim) return;
      clearTimeout(anim.timer);
      anim.playing = on;
      const tick = () => {
        anim.timer = setTimeout(async () => {
          if (!anim.playing || anim !== this.anim) return;
          await this.draw((anim.frame + 1) % anim.count);
          if (anim.playing) tick();
        }, anim.delay);
      };
      if (on) tick();
      showFrame();
    }
    step(by) {
      if (!this.anim) return;
      this.play(false);
      return this.draw((this.anim.frame + by + this.anim.count) % this.anim.count);
    }
    stop() {
      if (!this.anim) return;
      clearTimeout(this.anim.timer);
      this.anim.decoder.close();
      this.anim = null;
    }
  }
  const panes = [...dialog.querySelectorAll(".v-pane")].map((el) => new Pane(el));
  const main = panes[0];

  let items = [], index = 0, current = null, opener = null, comparing = false, others = [];
  let view = { s: 1, x: 0, y: 0 }, fit = 1;

  function say(text) { note.textContent = text; note.hidden = !text; }
  const size = () => { const r = main.stage.getBoundingClientRect(); return { w: r.width, h: r.height }; };
  const zoomed = () => view.s > fit * 1.001;

  /** Draws the view on every shown pane, keeping some of the image in sight. */
  function apply() {
    const { w, h } = size();
    const iw = main.w * view.s, ih = main.h * view.s, m = 48;
    view.x = Math.min(Math.max(view.x, Math.min(m, iw) - iw), w - Math.min(m, iw));
    view.y = Math.min(Math.max(view.y, Math.min(m, ih) - ih), h - Math.min(m, ih));
    for (const p of panes) {
      const s = view.s * p.k;
      const transform = `translate(${view.x}px, ${view.y}px) scale(${s})`;
      for (const el of [p.img, p.canvas, p.overlay]) if (el) el.style.transform = transform;
      p.stage.classList.toggle("pixelated", s >= 2);
    }
    Object.assign(main.stage.dataset, { scale: view.s, x: view.x, y: view.y });
    $(".v-zoom").value = `${Math.round(view.s * 100)}%`;
  }
  function fitView() {
    const { w, h } = size();
    fit = Math.min(w / main.w, h / main.h) || 1;
    view = { s: fit, x: (w - main.w * fit) / 2, y: (h - main.h * fit) / 2 };
    apply();
  }
  /** Zooms by `factor` keeping the image point under (cx, cy), stage pixels, where it is. */
  function zoomAt(factor, cx, cy) {
    const s = Math.min(Math.max(view.s * factor, Math.min(fit, 1) / 2), Math.max(64, fit * 8));
    view = { s, x: cx - (cx - view.x) * (s / view.s), y: cy - (cy - view.y) * (s / view.s) };
    apply();
  }
  const zoomCentre = (factor) => zoomAt(factor, size().w / 2, size().h / 2);
  function pan(dx, dy) { view.x += dx; view.y += dy; apply(); }

  function showFrame() {
    const anim = main.anim;
    $(".v-anim").hidden = !anim;
    if (!anim) return;
    $(".v-frame").value = `${anim.frame + 1} / ${anim.count}`;
    const play = $('[data-act="play"]');
    play.textContent = anim.playing ? "⏸" : "▶";
    play.setAttribute("aria-label", anim.playing ? "Pause" : "Play");
  }

  async function show(i, item) {
    index = (i + items.length) % items.length;
    current = item || items[index];
    say("");
    $(".v-title").textContent = current.label;
    $(".v-pos").textContent = items.length > 1 ? `${index + 1} / ${items.length}` : "";
    $(".v-open").href = current.open;
    main.k = 1;
    const compare = $('[data-act="compare"]');
    compare.disabled = !candidates().length;
    if (!(await main.load(current, true))) return;
    showFrame();
    if (main.anim && !reduced) main.play(true);
    if (comparing && !compare.disabled) {
      others = candidates();
      await pickOther(defaultOther());
    } else if (comparing) await setCompare(false);
    else fitView();
    main.stage.dataset.shown = current.url;
  }

  /** What to compare with: the picture the model saw, an edit's output, or the next image. */
  function candidates() {
    const all = items.flatMap((it) => (it.seen ? [it, seenOf(it)] : [it]));
    return all.filter((it) => it.url !== current.url);
  }
  function defaultOther() {
    const seen = current.seen && others.find((it) => it.url === current.seen);
    const original = current.role === "seen" && others.find((it) => it.seen === current.url);
    const differs = others.find((it) => it.role && current.role && it.role !== current.role && it.role !== "seen");
    return seen || original || differs || others.find((it) => it.el !== current.el) || others[0];
  }
  async function pickOther(item) {
    const select = $(".v-other");
    select.replaceChildren(...others.map((it, n) => new Option(it.label, n, false, it === item)));
    if (!item) return fitView();
    const other = panes[1];
    if (await other.load(item, false)) {
      other.k = main.w / other.w;
      fitView();
      other.stage.dataset.shown = item.url;
    }
  }
  async function setCompare(on) {
    comparing = on && candidates().length > 0;
    const button = $('[data-act="compare"]');
    button.setAttribute("aria-pressed", String(comparing));
    panes[1].el.hidden = $(".v-with").hidden = !comparing;
    dialog.classList.toggle("comparing", comparing);
    others = comparing ? candidates() : [];
    if (comparing) await pickOther(defaultOther());
    else { panes[1].stop(); panes[1].k = 1; fitView(); }
  }

  function open(el) {
    items = gallery();
    const item = itemFor(el);
    const seen = el.matches(SEEN);
    const card = el.closest(".img-card");
    let at = items.findIndex((it) => it.el === el || (seen && card && it.el.closest(".img-card") === card));
    if (at < 0) at = items.push(item) - 1;
    opener = el;
    if (!dialog.open) dialog.showModal();
    main.stage.focus();
    show(at, seen ? { ...item, role: "seen" } : undefined);
  }
  dialog.addEventListener("close", () => {
    panes.forEach((p) => { p.stop(); p.token++; });
    if (comparing) setCompare(false);
    if (opener?.isConnected) opener.focus();
  });

  // Opening: a plain click on a link (a modified click still opens a tab), or Enter on a picture.
  document.addEventListener("click", (event) => {
    const el = event.target.closest(`${LINKS}, ${SEEN}`);
    const modified = event.ctrlKey || event.metaKey || event.shiftKey || event.altKey;
    if (!el || dialog.contains(el) || event.button !== 0 || modified) return;
    if (el.matches(LINKS) && !el.querySelector("img")) return;
    event.preventDefault();
    open(el);
  });
  document.addEventListener("keydown", (event) => {
    if ((event.key === "Enter" || event.key === " ") && event.target.matches?.(SEEN)) {
      event.preventDefault();
      open(event.target);
    }
  });
  const focusable = (root) => root.querySelectorAll(SEEN).forEach((img) => {
    if (img.tabIndex >= 0) return;
    img.tabIndex = 0;
    img.setAttribute("role", "button");
    img.title = "Open full size"; // its name stays its alt
  });
  document.addEventListener("htmx:afterSettle", () => focusable(document));
  focusable(document);

  const actions = {
    prev: () => show(index - 1), next: () => show(index + 1),
    in: () => zoomCentre(STEP), out: () => zoomCentre(1 / STEP),
    actual: () => zoomCentre(1 / view.s), fit: fitView,
    "frame-prev": () => main.step(-1), "frame-next": () => main.step(1),
    play: () => main.play(!main.anim?.playing),
    compare: () => setCompare(!comparing), close: () => dialog.close(),
  };
  dialog.addEventListener("click", (event) => {
    const button = event.target.closest("[data-act]");
    if (button) actions[button.dataset.act]();
  });
  $(".v-other").addEventListener("change", (event) => pickOther(others[+event.target.value]));

  dialog.addEventListener("keydown", (event) => {
    const { key, target } = event;
    if (key === "Escape") { event.preventDefault(); return dialog.close(); }
    if (key === "Tab") { // keep focus in the dialog
      const all = [...dialog.querySelectorAll("button, select, a[href], [tabindex='0']")]
        .filter((e) => e.checkVisibility());
      const edge = event.shiftKey ? all[0] : all[all.length - 1];
      if (target === edge || !dialog.contains(target)) {
        event.preventDefault();
        (event.shiftKey ? all[all.length - 1] : all[0]).focus();
      }
      return;
    }
    if (target.matches("select, input") || event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.matches("button, a") && (key === " " || key === "Enter")) return;
    const { w, h } = size();
    const arrows = { ArrowLeft: [w / 8, 0], ArrowRight: [-w / 8, 0], ArrowUp: [0, h / 8], ArrowDown: [0, -h / 8] };
    const keys = { "+": "in", "=": "in", "-": "out", _: "out", 0: "fit", 1: "actual", ",": "frame-prev",
      ".": "frame-next", k: "play", " ": "play", c: "compare" };
    if (arrows[key] && zoomed()) pan(...arrows[key]);
    else if (key === "ArrowLeft" || key === "ArrowRight") actions[key === "ArrowLeft" ? "prev" : "next"]();
    else if (keys[key] && (keys[key] !== "play" || main.anim)) actions[keys[key]]();
    else return;
    event.preventDefault();
  });

  // Wheel, drag and pinch on either stage move the one view.
  const pointers = new Map();
  let last = null;
  const local = (stage, e) => {
    const r = stage.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  const spread = () => {
    const [a, b] = [...pointers.values()];
    return b ? { d: Math.hypot(a[0] - b[0], a[1] - b[1]), x: (a[0] + b[0]) / 2, y: (a[1] + b[1]) / 2 }
      : { d: 0, x: a[0], y: a[1] };
  };
  for (const { stage } of panes) {
    stage.addEventListener("wheel", (e) => {
      e.preventDefault();
      const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
      zoomAt(Math.exp(-e.deltaY * unit * (e.ctrlKey ? 0.01 : 0.002)), ...local(stage, e));
    }, { passive: false });
    stage.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      stage.setPointerCapture(e.pointerId);
      pointers.set(e.pointerId, local(stage, e));
      last = spread();
      stage.classList.add("dragging");
    });
    stage.addEventListener("pointermove", (e) => {
      if (!pointers.has(e.pointerId)) return;
      pointers.set(e.pointerId, local(stage, e));
      const now = spread();
      view.x += now.x - last.x;
      view.y += now.y - last.y;
      if (now.d && last.d) zoomAt(now.d / last.d, now.x, now.y); else apply();
      last = now;
    });
    const up = (e) => {
      pointers.delete(e.pointerId);
      if (pointers.size) last = spread(); else stage.classList.remove("dragging");
    };
    stage.addEventListener("pointerup", up);
    stage.addEventListener("pointercancel", up);
    stage.addEventListener("dblclick", (e) => (zoomed() ? fitView() : zoomAt(2, ...local(stage, e))));
  }
  addEventListener("resize", () => dialog.open && fitView());
})();
