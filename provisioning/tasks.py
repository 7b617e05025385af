"""django-q2 entry points: thin, they load and call."""

from provisioning import engine, powersync


def run_operation(operation_id: int) -> None:
    engine.run(operation_id)


def sync_power_states() -> str:
    report = powersync.sweep()
    return (
        f"polled {report.polled} BMCs in {report.seconds:.2f} s, {report.failed} failed, "
        f"{len(report.drifted)} drifted, {len(report.enforced)} restored"
    )


def recover_operations() -> list[int]:
    return engine.recover()
