"""Validation of what installers send to the boot endpoints."""

from django import forms

from panel.api.parsers import InvalidJson, parse_json
from provisioning.boot import EVENTS


class InstallerEventForm(forms.Form):
    """One installer report, as JSON or as a form post (busybox wget --post-data)."""

    event = forms.ChoiceField(choices=[(name, name) for name in EVENTS])
    progress = forms.IntegerField(required=False, min_value=0, max_value=100)
    message = forms.CharField(required=False, max_length=2000)
    facts = forms.CharField(required=False, max_length=20000)

    def clean_facts(self):
        text = self.cleaned_data["facts"]
        if not text:
            return {}
        try:
            facts = parse_json(text)
        except InvalidJson as exc:
            raise forms.ValidationError(str(exc)) from None
        if not isinstance(facts, dict):
            raise forms.ValidationError("facts must be a JSON object.")
        return facts

    def clean(self):
        data = super().clean()
        if data.get("event") == "facts" and not data.get("facts"):
            self.add_error("facts", "A facts event carries facts.")
        return data
