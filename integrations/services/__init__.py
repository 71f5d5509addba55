"""Every write of the partner API: API keys, webhook endpoints, and the events delivered to them.

One module a concern, re-exported here.
"""

from .api_keys import API_KEY_NAME_MAX_LENGTH, api_key_issue, api_key_revoke
from .deliveries import (
    ATTEMPT_LEASE,
    BACKOFF_FACTOR,
    FIRST_RETRY_DELAY,
    RETRY_PERIOD,
    retry_delay,
    webhook_address_refusal,
    webhook_deliveries_send_due,
    webhook_delivery_attempt,
    webhook_delivery_resend,
    webhook_endpoints_exist,
    webhook_event_emit,
)
from .endpoints import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
    webhook_secret_generate,
)
from .signatures import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    webhook_signature,
    webhook_signature_verify,
)

__all__ = [
    "API_KEY_NAME_MAX_LENGTH",
    "ATTEMPT_LEASE",
    "BACKOFF_FACTOR",
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "FIRST_RETRY_DELAY",
    "RETRY_PERIOD",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "api_key_issue",
    "api_key_revoke",
    "retry_delay",
    "webhook_address_refusal",
    "webhook_deliveries_send_due",
    "webhook_delivery_attempt",
    "webhook_delivery_resend",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_endpoint_rotate_secret",
    "webhook_endpoint_update",
    "webhook_endpoints_exist",
    "webhook_event_emit",
    "webhook_secret_generate",
    "webhook_signature",
    "webhook_signature_verify",
]
