"""Portal forms: they check shape; the services check meaning (their errors land on fields)."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

from panel import logins, services
from panel.exceptions import PanelError
from panel.models import ApiToken, SshKey
from panel.portal.selectors import POWER_FILTERS
from panel.sshkeys import parse_public_keys
from provisioning import imaging, installers
from provisioning import services as provisioning_services
from provisioning.models import DiskImage, OsTemplate


def apply_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form's fields (unknown fields: the form)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


def submit(form: forms.Form, service, **arguments):
    """Call a service for a valid form; what it refuses lands on the form. None then."""
    try:
        return service(**arguments)
    except ValidationError as exc:
        apply_errors(form, exc)
    except PanelError as exc:
        form.add_error(None, exc.message)
    return None


class LoginForm(logins.ThrottledLoginForm, AuthenticationForm):
    """Django's login, refused for a while after repeated failures (panel.logins)."""


class CodeForm(forms.Form):
    """A second-factor code: from the authenticator app, or a recovery code."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        help_text="The 6 digits your authenticator app shows, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "spellcheck": "false"}),
    )


class LoginCodeForm(CodeForm):
    """The code step of a login, where the code is all the page asks (so the field has focus;
    elsewhere a code confirms an action, which focus should not jump to)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs["autofocus"] = True


class FirstCodeForm(forms.Form):
    """The code that proves the app has the secret, at enrolment."""

    code = forms.CharField(
        label="Code from the app",
        max_length=32,
        help_text="The 6 digits the app shows for Metalpanel now.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class AuditedPasswordChangeForm(PasswordChangeForm):
    def save(self, commit=True):
        return services.update_user(
            actor=self.user, user=self.user, password=self.cleaned_data["new_password1"]
        )


# What each layout means for the customer's data, beside installers.RAID_LABELS.
RAID_MEANING = {
    "no_raid": "each disk on its own, the system on the first",
    "raid_0": "all the space, lost with any disk",
    "raid_1": "survives a disk failure",
    "raid_5": "survives one disk failure",
    "raid_10": "fast, survives a disk failure per mirror",
}


def os_choices(user) -> list:
    """Public OS templates grouped by family, for a <select> with <optgroup>s."""
    groups = {}
    for template in OsTemplate.objects.visible_to(user).filter(is_utility=False).order_by("name"):
        groups.setdefault(template.get_family_display(), []).append((template.pk, template.name))
    return [("", "Choose an operating system"), *sorted(groups.items())]


class SavedKeysField(forms.ModelMultipleChoiceField):
    """Checks the ids are ids before querying: SQLite cannot even compare a 21-digit number."""

    def clean(self, value):
        for key in value or ():
            if not str(key).isdigit() or int(key) > 2**63 - 1:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": key},
                )
        return super().clean(value)


class ReinstallForm(forms.Form):
    os_template = forms.TypedChoiceField(label="Operating system", coerce=int)
    raid = forms.ChoiceField(label="Disk layout", widget=forms.RadioSelect)
    password = forms.CharField(
        label="Root password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not a common password. Leave empty to use SSH keys only.",
    )
    ssh_keys = SavedKeysField(
        label="SSH keys for root",
        queryset=SshKey.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    reboot = forms.ChoiceField(
        label="Reboot",
        choices=[
            ("auto", "Reboot it now automatically"),
            ("manual", "I will reboot it myself"),
        ],
        initial="auto",
        widget=forms.RadioSelect,
    )
    confirm_name = forms.CharField(label="Type the server's name to confirm")

    def __init__(self, *args, user, server, **kwargs):
        super().__init__(*args, **kwargs)
        self.server = server
        self.fields["os_template"].choices = os_choices(user)
        layouts = installers.raid_layouts_for(server.profile.disk_count)
        self.fields["raid"].choices = [
            (layout, f"{installers.RAID_LABELS[layout]}: {RAID_MEANING[layout]}")
            for layout in layouts
        ]
        self.fields["raid"].initial = "raid_1" if "raid_1" in layouts else layouts[0]
        self.fields["ssh_keys"].queryset = SshKey.objects.filter(user=user).order_by("name")
        self.fields[
            "confirm_name"
        ].help_text = (
            f"Everything on the {server.profile.disk_count} disk(s) of {server.name} is erased."
        )

    def clean_confirm_name(self):
        name = self.cleaned_data["confirm_name"].strip()
        if name != self.server.name:
            raise ValidationError(f'Type "{self.server.name}" exactly to confirm.')
        return name

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("password") and not cleaned.get("ssh_keys"):
            self.add_error("password", "Give a root password, choose SSH keys, or both.")
        return cleaned


class RescueForm(forms.Form):
    ssh_keys = SavedKeysField(
        label="Your saved SSH keys",
        queryset=SshKey.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    ssh_key_texts = forms.CharField(
        label="Other public keys",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text="One OpenSSH public key per line, for this rescue only (not saved).",
    )
    password = forms.BooleanField(
        label="Set a one-time root password",
        required=False,
        help_text="Generated by the panel and shown to you once, on the next page.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        saved = SshKey.objects.filter(user=user).order_by("name")
        if saved.exists():
            self.fields["ssh_keys"].queryset = saved
        else:
            del self.fields["ssh_keys"]

    def clean_ssh_key_texts(self):
        lines = [line.strip() for line in self.cleaned_data["ssh_key_texts"].splitlines()]
        lines = [line for line in lines if line]
        parse_public_keys(lines)  # its ValidationError lands on this field
        return lines

    def clean(self):
        cleaned = super().clean()
        if not self.key_lines() and not cleaned.get("password"):
            self.add_error(None, "Choose SSH keys, ask for a one-time password, or both.")
        return cleaned

    def key_lines(self) -> list[str]:
        """The public key lines root logs in with: the saved ones chosen, then those pasted."""
        saved = [key.public_key for key in self.cleaned_data.get("ssh_keys") or ()]
        return saved + self.cleaned_data.get("ssh_key_texts", [])


class ServerFilterForm(forms.Form):
    """The server list's search box and power filter (a form, so NUL bytes and the like are
    refused here, not by the database)."""

    q = forms.CharField(required=False, max_length=100)
    power = forms.ChoiceField(
        required=False, choices=[("", "Any"), *((state, state) for state in POWER_FILTERS)]
    )


class SshKeyForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, help_text="Default: the key's comment")
    public_key = forms.CharField(
        label="Public key",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="One line, as in ~/.ssh/id_ed25519.pub: ssh-ed25519, ecdsa-sha2-* or ssh-rsa "
        "(2048 bits or more).",
    )


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="For example the billing system's name")
    scope = forms.ChoiceField(choices=ApiToken.Scope.choices, initial=ApiToken.Scope.WRITE)
    allowed_cidrs = forms.CharField(
        label="Allowed networks",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text="Addresses or networks the token may be used from, one per line. "
        "Empty: from anywhere.",
    )
    expires_days = forms.IntegerField(
        label="Expires after (days)",
        required=False,
        min_value=1,
        max_value=3650,
        help_text="Empty: never expires.",
    )

    def clean_allowed_cidrs(self):
        text = self.cleaned_data["allowed_cidrs"].replace(",", "\n")
        return [line.strip() for line in text.splitlines() if line.strip()]


class NotificationsForm(forms.Form):
    notify_by_email = forms.BooleanField(
        label="Email me when an operation on my servers ends",
        required=False,
        help_text="A power action, an installation (with how to log in), a wipe: "
        "whether it succeeded, failed or was cancelled.",
    )


class CaptureForm(forms.Form):
    name = forms.RegexField(
        label="Image name",
        regex=r"^[\w][\w .:+-]*$",
        max_length=100,
        help_text="Letters, digits, spaces and . : + - _",
    )
    disks = forms.MultipleChoiceField(
        label="Disks", widget=forms.CheckboxSelectMultiple, required=False
    )

    def __init__(self, *args, server, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["disks"].choices = [
            (disk["name"], f"{disk['name']} ({filesizeformat(disk['size_bytes'])})")
            for disk in imaging.reported_disks(server.facts)
        ]
        self.fields["disks"].help_text = "None ticked: all of them."


class RestoreForm(forms.Form):
    image = forms.TypedChoiceField(label="Image", coerce=int)

    def __init__(self, *args, user, server, **kwargs):
        super().__init__(*args, **kwargs)
        ready = DiskImage.objects.visible_to(user).filter(state=DiskImage.State.READY)
        ready &= provisioning_services.restorable_images(server)
        self.fields["image"].choices = [
            (
                image.pk,
                f"{image.name} ({filesizeformat(image.raw_bytes)}, {image.created_at:%Y-%m-%d})",
            )
            for image in ready.order_by("name")
        ]
