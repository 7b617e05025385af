from django.core.management import call_command
from django.core.management.base import BaseCommand

from inventory import demo
from panel import services as people


class Command(BaseCommand):
    help = "Set up the database, seed a demo datacenter and serve the panel."

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000", help="Where to serve the panel")
        parser.add_argument("--servers", type=int, default=12, help="Demo servers to enrol")
        parser.add_argument("--seed-only", action="store_true", help="Seed, print, do not serve")

    def handle(self, *args, addrport, servers, seed_only, **options):
        call_command("migrate", interactive=False, verbosity=0)
        admin = demo.seed(servers=servers)
        _, key = people.create_api_token(actor=admin, user=admin, name="demo")
        base = f"http://{addrport}"
        self.stdout.write(
            "\nMetalpanel demo datacenter is ready.\n"
            f"  Staff:     {demo.ADMIN_EMAIL} / {demo.ADMIN_PASSWORD}   {base}/admin/\n"
            + "".join(
                f"  Customer:  {email} / {password}\n" for email, _, password in demo.CUSTOMERS
            )
            + f"  API docs:  {base}/api/docs/\n"
            f"  API token: {key}\n"
            f'  Try:       curl -H "Authorization: Token {key}" {base}/api/v1/servers/\n'
        )
        if not seed_only:
            call_command("runserver", addrport, use_reloader=False)
