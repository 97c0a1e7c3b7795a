"""Every action the audit log records, as one typed list.

The stored value is the string (``"agency.suspend"``): that is what the public
log and its verifiers read, so a member's value never changes once released.
Code that writes or selects records uses the members, never the strings.
"""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    # accounts
    USER_ROLE_CHANGED = "user.role_changed"
    SESSION_SIGNED_IN = "session.signed_in"
    API_TOKEN_CREATED = "api_token.created"
    API_TOKEN_ROTATED = "api_token.rotated"
    API_TOKEN_REVOKED = "api_token.revoked"
    USER_TOTP_ENABLED = "user.totp_enabled"
    USER_TOTP_DISABLED = "user.totp_disabled"
    USER_RECOVERY_CODES_GENERATED = "user.recovery_codes_generated"
    USER_RECOVERY_CODE_USED = "user.recovery_code_used"
    # agencies
    AGENCY_APPLIED = "agency.applied"
    AGENCY_VERIFIED = "agency.verify"
    AGENCY_REJECTED = "agency.reject"
    AGENCY_SUSPENDED = "agency.suspend"
    AGENCY_REINSTATED = "agency.reinstate"
    AGENCY_ENDED = "agency.end"
    AGENCY_MEMBER_INVITED = "agency.member_invited"
    AGENCY_INVITATION_LINK_ISSUED = "agency.invitation_link_issued"
    AGENCY_INVITATION_RESENT = "agency.invitation_resent"
    AGENCY_MEMBER_JOINED = "agency.member_joined"
    AGENCY_MEMBER_REMOVED = "agency.member_removed"
    AGENCY_STATEMENT_CHANGED = "agency.statement_changed"
    AGENCY_IDENTIFIER_ADDED = "agency.identifier_added"
    AGENCY_IDENTIFIER_REMOVED = "agency.identifier_removed"
    # cameras
    CAMERA_REGISTERED = "camera.registered"
    CAMERA_TOKEN_ROTATED = "camera.token_rotated"
    CAMERA_TOKEN_REVOKED = "camera.token_revoked"
    CAMERA_DELETED = "camera.deleted"
    CLIP_DELETED = "clip.deleted"
    CLIP_RETENTION_DELETED = "clip.retention_deleted"
    # footage requests
    REQUEST_DRAFTED = "request.drafted"
    REQUEST_SUBMITTED = "request.submitted"
    REQUEST_APPROVED = "request.approved"
    REQUEST_REVIEW_APPROVED = "request.review_approved"
    REQUEST_REVIEW_REJECTED = "request.review_rejected"
    REQUEST_ACTIVATED = "request.activated"
    REQUEST_CLOSED = "request.closed"
    REQUEST_WITHDRAWN = "request.withdrawn"
    REQUESTS_OPTED_OUT = "requests.opted_out"
    REQUESTS_OPTED_IN = "requests.opted_in"
    # evidence
    EVIDENCE_SHARED = "evidence.shared"
    EVIDENCE_WITHDRAWN = "evidence.withdrawn"
    EVIDENCE_UPLOADED = "evidence.uploaded"
    EVIDENCE_REDACTED = "evidence.redacted"
    EVIDENCE_VIEWED = "evidence.viewed"
    EVIDENCE_EXPORTED = "evidence.exported"
    EVIDENCE_HELD = "evidence.held"
    EVIDENCE_RELEASED = "evidence.released"
    EVIDENCE_RETENTION_DELETED = "evidence.retention_deleted"
    # feed
    FEED_OFFICIAL_POST = "feed.official_post"
    FEED_OFFICIAL_POST_EDITED = "feed.official_post_edited"
    FEED_OFFICIAL_POST_DELETED = "feed.official_post_deleted"
    FEED_POST_HIDDEN = "feed.post_hidden"
    FEED_POST_RESTORED = "feed.post_restored"
    FEED_COMMENT_HIDDEN = "feed.comment_hidden"
    FEED_COMMENT_RESTORED = "feed.comment_restored"
    FEED_REPORTS_DISMISSED = "feed.reports_dismissed"
    FEED_POST_APPROVED = "feed.post_approved"
    FEED_POST_REJECTED = "feed.post_rejected"
    FEED_SETTINGS_CHANGED = "feed.settings_changed"
    # transparency
    POLICY_CHANGED = "policy.changed"
    ACCOUNTABILITY_IMPORTED = "accountability.imported"
    ACCOUNTABILITY_ANALYZED = "accountability.analyzed"
    ACCOUNTABILITY_RELEASE_WITHDRAWN = "accountability.release_withdrawn"


# An agency's status change, by the action name the API takes (``POST .../status``).
AGENCY_STATUS_ACTIONS: dict[str, AuditAction] = {
    "verify": AuditAction.AGENCY_VERIFIED,
    "reject": AuditAction.AGENCY_REJECTED,
    "suspend": AuditAction.AGENCY_SUSPENDED,
    "reinstate": AuditAction.AGENCY_REINSTATED,
    "end": AuditAction.AGENCY_ENDED,
}
