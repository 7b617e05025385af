from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from panel import services
from panel.models import ApiToken, User


class Command(BaseCommand):
    help = "Create an API token for a user and print its key (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username", help="The user's email (their login name)")
        parser.add_argument("--scope", choices=ApiToken.Scope.values, default=ApiToken.Scope.WRITE)
        parser.add_argument(
            "--allow-cidr",
            action="append",
            default=[],
            metavar="CIDR",
            help="Source network allowed to use the token (repeatable; default: any)",
        )
        parser.add_argument("--expires-days", type=int, metavar="N", help="Expire after N days")
        parser.add_argument("--name", default="", help="A label, e.g. the billing system's name")

    def handle(self, *args, username, scope, allow_cidr, expires_days, name, **options):
        user = User.objects.filter(email__iexact=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive.")
        try:
            token, key = services.create_api_token(
                actor=None,
                user=user,
                name=name or "created with manage.py",
                scope=scope,
                allowed_cidrs=allow_cidr,
                expires_days=expires_days,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(key)
        self.stderr.write(
            f"Token {token.prefix} for {user.email}: scope {scope}"
            + (f", from {', '.join(token.allowed_cidrs)}" if token.allowed_cidrs else "")
            + (f", expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "")
            + ". Store it now: it cannot be shown again."
        )
