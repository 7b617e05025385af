"""django-q2 entry points: thin, they load and call."""

from webhooks import deliveries


def send(delivery_ids: list[int]) -> str:
    sent = [deliveries.send(delivery_id) for delivery_id in delivery_ids]
    done = [delivery for delivery in sent if delivery is not None]
    delivered = sum(delivery.status == delivery.Status.DELIVERED for delivery in done)
    return f"{len(done)} sent, {delivered} delivered"


def queue_due() -> str:
    return f"queued {deliveries.queue_due()} due webhook deliveries"
