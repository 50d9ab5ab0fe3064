"""README documents the analytics page, the list's cost features and the logs API's cost
fields where an operator looks for them."""

from pathlib import Path

from django.conf import settings

README = (Path(settings.BASE_DIR) / "README.md").read_text()


def test_the_analytics_section_sits_between_image_costs_and_the_logs_api():
    costs = README.index("### What images cost, and what the model saw")
    analytics = README.index("### Analytics and cost in the list")
    api = README.index("### The logs API")
    assert costs < analytics < api
    section = README[analytics:api]
    for words in ("/logs/analytics/", "manage.py rollup_logs", "ANALYTICS_MAX_LOG_ROWS", "exact"):
        assert words in section


def test_the_logs_api_names_its_cost_fields_and_parameters():
    api = README[README.index("### The logs API") : README.index("## Providers in the admin")]
    for words in (
        "`cost_usd`",
        "`cost_breakdown`",
        "`estimated_prompt_tokens`",
        "`estimate_difference`",
        "`seen_width`",
        "`cost_min`",
        "`sort=cost`",
        "`id@cost`",
    ):
        assert words in api


def test_settings_and_speed():
    assert "| `ANALYTICS_MAX_LOG_ROWS` | `200000` |" in README
    speed = README[README.index("## Speed") :]
    assert "bench/analytics.py" in speed and "851 / 832 ms" in speed
