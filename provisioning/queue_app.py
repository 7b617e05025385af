"""django-q2, under a name staff understand in the admin's index.

Its task lists (queued, successful and failed tasks, schedules) are the workers' internals:
operations are what staff follow (Provisioning and power, Operations). They stay visible,
because when a worker is stuck or a schedule is missing they are where to look; named as
internal, they sort after the panel's own sections. Every staff member is a superuser in
this panel (User.is_superuser follows the admin role), so hiding them from non-superusers
would hide nothing."""

from django_q.apps import DjangoQConfig


class TaskQueueConfig(DjangoQConfig):
    verbose_name = "Task queue (internal, django-q2)"
