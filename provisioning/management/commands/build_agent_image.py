from django.core.management.base import BaseCommand, CommandError

from provisioning import agent_image


class Command(BaseCommand):
    help = (
        "Build the panel's agent image (kernel + initramfs with busybox, drivers and the agent) "
        "from Debian packages, or take it from the cache; the panel serves it at /boot/images/."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--kernel-package",
            default=agent_image.KERNEL_PACKAGE,
            help="Debian kernel package as name=version (default: %(default)s)",
        )
        parser.add_argument(
            "--busybox-package",
            default=agent_image.BUSYBOX_PACKAGE,
            help="Debian busybox package as name=version (default: %(default)s)",
        )

    def handle(self, *args, kernel_package, busybox_package, **options):
        try:
            built = agent_image.build(
                kernel_package=kernel_package, busybox_package=busybox_package
            )
        except agent_image.BuildError as exc:
            raise CommandError(str(exc)) from exc
        manifest = built.manifest
        files = ", ".join(
            f"{name} {facts['bytes'] / 1e6:.1f} MB" for name, facts in manifest["files"].items()
        )
        how = "from the cache" if built.cached else f"built in {manifest['build_seconds']} s"
        self.stdout.write(
            f"Agent image {built.directory.name} ({how}): {files}; kernel "
            f"{manifest['kernel_release']} with {len(manifest['modules'])} modules "
            f"({', '.join(manifest['modules'])})."
        )
