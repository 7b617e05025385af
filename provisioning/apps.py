from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning and power"

    def ready(self):
        from django_q.signals import post_spawn

        from provisioning import tasks

        post_spawn.connect(tasks.start_recovery, dispatch_uid="metalpanel-recovery")
        post_spawn.connect(tasks.settle_garbage_collector, dispatch_uid="metalpanel-gc")
