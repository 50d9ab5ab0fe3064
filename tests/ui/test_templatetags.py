import base64

from logs_ui.templatetags.iris import json_tree, ms, short_b64, thousands


def test_it_formats_durations():
    assert ms(None) == "–"
    assert ms(93.2) == "93 ms"
    assert ms(1530) == "1.53 s"
    assert thousands(1234567) == "1,234,567" and thousands(None) == "–"


def test_it_shortens_a_data_uri_and_says_how_big_it_was():
    payload = base64.b64encode(bytes(30_000)).decode()
    short = short_b64("data:image/png;base64," + payload)
    assert short.startswith("data:image/png;base64," + payload[:48] + "…")
    assert "30,000 bytes" in short and len(short) < 200


def test_it_shortens_bare_long_base64_but_not_prose():
    assert "bytes]" in short_b64("QUJD" * 200)
    prose = "word " * 200
    assert short_b64(prose) == prose
    assert short_b64("short") == "short"


def test_it_renders_json_as_an_escaped_collapsible_tree():
    html = json_tree({"a<b>": ["<script>alert(1)</script>", 1.5, True, None, {}], "n": {"x": 1}})
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&quot;a&lt;b&gt;&quot;" in html
    assert '<details class="jt-g" open>' in html and 'data-close="]' in html
    assert '<span class="jt-n">1.5</span>' in html and '<span class="jt-l">true</span>' in html
    assert '<span class="jt-l">null</span>' in html and "{}" in html


def test_it_folds_deep_levels_and_survives_very_deep_json():
    deep: dict = {}
    node = deep
    for _ in range(100):
        node["k"] = {}
        node = node["k"]
    html = json_tree(deep)
    assert '<details class="jt-g">' in html  # folded past a few levels
    assert html.count("<details") <= 41


def test_it_escapes_quotes_in_keys_and_values():
    html = json_tree({'say "hi"': 'it\'s "fine"'})
    assert "&quot;say \\&quot;hi\\&quot;&quot;" in html


def test_one_usd_display_filter_and_one_decimal_string_for_machines():
    """One template library formats USD for people; machines get pricing.decimal_str."""
    import pkgutil
    from decimal import Decimal
    from importlib import import_module
    from pathlib import Path

    from django.conf import settings

    from gateway import logquery, pricing
    from logs_ui import analytics_sql, seen, templatetags
    from logs_ui.templatetags import economics

    names = [m.name for m in pkgutil.iter_modules(templatetags.__path__)]
    with_usd = [
        n for n in names if "usd" in import_module(f"{templatetags.__name__}.{n}").register.filters
    ]
    assert with_usd == ["economics"]
    assert not hasattr(seen, "usd") and not hasattr(logquery, "usd")
    assert economics.usd(Decimal("0.0004250000")) == "$0.000425"
    assert economics.usd(Decimal("1234.5")) == "$1,234.50"
    assert economics.usd(None) == "unknown"
    assert economics.percent(0.0712) == "7.1 %"
    assert pricing.decimal_str(Decimal("0.0105000000")) == "0.0105"
    # The analytics cells add up what the rollups sum, plus errors: one list of them.
    assert ("errors", *analytics_sql.rollups.SUM_FIELDS) == analytics_sql.Cell.SUMS
    # The list's columns are sized in iris.css alone.
    assert not (Path(settings.BASE_DIR) / "static" / "list-cost.css").exists()
