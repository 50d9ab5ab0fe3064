"""The logs UI's "Replay these…" form: targets, limit, concurrency and the agreement rule."""

from django import forms
from django.http import QueryDict

from batches import runner
from batches.agreement import RULES, Rule
from logs_ui.forms import LogFilterForm

TARGET_ROWS = 3  # target rows the form shows; blank ones are ignored


class BatchForm(forms.Form):
    query = forms.CharField(required=False, max_length=4000, widget=forms.HiddenInput)
    limit = forms.IntegerField(min_value=1, initial=runner.DEFAULT_LIMIT)
    concurrency = forms.IntegerField(min_value=1, initial=runner.DEFAULT_CONCURRENCY)
    agreement = forms.ChoiceField(
        choices=[(r, r) for r in RULES], initial="exact", widget=forms.RadioSelect
    )
    pattern = forms.CharField(required=False, max_length=500)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for n in range(TARGET_ROWS):
            self.fields[f"provider_{n}"] = forms.CharField(required=False, max_length=65)
            self.fields[f"model_{n}"] = forms.CharField(required=False, max_length=200)

    @property
    def target_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"provider_{n}"], self[f"model_{n}"]) for n in range(TARGET_ROWS)]

    def clean_limit(self) -> int:
        top = runner.max_records()
        limit = self.cleaned_data["limit"]
        if limit > top:
            raise forms.ValidationError(
                f"At most {top} records a batch (GATEWAY_MAX_BATCH_RECORDS).", code="max_value"
            )
        return limit

    def clean_concurrency(self) -> int:
        top = runner.max_concurrency()
        if self.cleaned_data["concurrency"] > top:
            raise forms.ValidationError(f"At most {top} at a time.", code="max_value")
        return self.cleaned_data["concurrency"]

    def clean(self) -> dict:
        data = super().clean()
        rows = [
            {"provider": data.get(f"provider_{n}", ""), "model": data.get(f"model_{n}") or None}
            for n in range(TARGET_ROWS)
            if (data.get(f"provider_{n}") or "").strip()
        ]
        if not rows:
            self.add_error("provider_0", "Choose a provider to replay on.")
            return data
        if kind := next(
            (r["provider"] for r in rows if not r["provider"].strip().startswith("@")), None
        ):
            self.add_error(
                None,
                f"{kind.strip()} is a provider kind, and the UI replays on @slug providers; "
                "use the API with a provider key for a kind.",
            )
            return data
        try:
            data["targets"] = runner.parse_targets(rows)
            data["rule"] = Rule(data.get("agreement") or "exact", data.get("pattern") or "")
        except ValueError as exc:
            field = "pattern" if data.get("agreement") == "regex" and "regex" in str(exc) else None
            self.add_error(field, str(exc))
        filters = LogFilterForm(QueryDict(data.get("query") or ""))
        if not filters.is_valid():
            self.add_error(None, "The filter is not valid: go back to the list and fix it.")
        data["filter"] = filters.to_filter()
        return data
