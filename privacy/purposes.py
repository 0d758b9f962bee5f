"""Why data may be processed: the purposes consent is given for, and where a decision came from."""

from enum import StrEnum


class Purpose(StrEnum):
    NECESSARY = "necessary"
    ANALYTICS = "analytics"
    PERSONALIZATION = "personalization"
    MARKETING_EMAIL = "marketing_email"
    MARKETING_SMS = "marketing_sms"
    ADVERTISING = "advertising"  # CCPA "sale/share"


# What a customer can switch: everything but what the service cannot run without.
OPTIONAL_PURPOSES = tuple(purpose for purpose in Purpose if purpose is not Purpose.NECESSARY)


class ConsentMode(StrEnum):
    OPT_IN = "OPT_IN"  # GDPR-style: no grant, no processing
    OPT_OUT = "OPT_OUT"  # CCPA-style: processing until an opt-out


class ConsentSource(StrEnum):
    API = "api"  # setConsent by a server key
    EVENT = "event"  # context.consent.categoryPreferences on an event
    GPC = "gpc"  # Sec-GPC header or context.gpc
    CUSTOMER = "customer"  # the customer themself, through a customer token
    DSR = "dsr"  # an opt-out data-subject request
    MERGE = "merge"  # two profiles of one person combined, most restrictive wins
