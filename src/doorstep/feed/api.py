"""JSON routes for Neighbors: home, feed (list and GeoJSON), posts, comments, reports,
moderation, tips, and the clips shared in posts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from doorstep import replicas
from doorstep.accounts.deps import AnyUser, CurrentCredential, CurrentUser, required_bearer
from doorstep.agencies.deps import AgencyMember, api_agency_member
from doorstep.feed import api_page, homes, moderation, timeline, tips
from doorstep.feed import comments as feed_comments
from doorstep.feed import display as feed_display
from doorstep.feed import reports as feed_reports
from doorstep.feed import service as feed_service
from doorstep.feed.models import Category, Comment, Post
from doorstep.feed.schemas import (
    ApprovalNote,
    CommentCreate,
    CommentRead,
    CommentUpdate,
    FeedMap,
    FeedPage,
    FeedSettingsRead,
    FeedSettingsUpdate,
    HomeRead,
    HomeUpdate,
    ModerationReason,
    PostCreate,
    PostRead,
    PostUpdate,
    QueueItem,
    ReportCreate,
    ReportRead,
    TipCreate,
    TipRead,
    TipSent,
)
from doorstep.http import DbSession, PageCursor, ReadSession, RuntimeDep, get_runtime
from doorstep.inputs import OptionalMoment
from doorstep.media.streaming import media_response
from doorstep.routing import GuardedRoute, user_principal

router = APIRouter(tags=["feed"], route_class=GuardedRoute)
api = "/api/v1"

Categories = Annotated[list[Category] | None, Query(alias="category")]
PageLimit = Annotated[int, Query(ge=1, le=100)]


# One post or comment as ``user`` may see it, as every route that changes one answers.
def _post_view(session: DbSession, user: CurrentUser, post: Post) -> PostRead:
    return feed_display.post_view(session=session, viewer=user, post=post)


def _comment_view(session: DbSession, user: CurrentUser, comment: Comment) -> CommentRead:
    return feed_comments.comment_views(session=session, viewer=user, comments=[comment])[0]


# ---------------------------------------------------------------- home


@router.get(f"{api}/feed/home", response_model=HomeRead)
def get_home(user: CurrentUser, session: DbSession) -> HomeRead:
    """The caller's own home, radius and alert categories (his eyes only)."""
    return homes.home_view(homes.require_home(session=session, owner=user))


@router.put(f"{api}/feed/home", response_model=HomeRead)
def set_home(body: HomeUpdate, user: CurrentUser, session: DbSession) -> HomeRead:
    return homes.home_view(
        homes.set_home(
            session=session,
            owner=user,
            latitude=body.latitude,
            longitude=body.longitude,
            radius_mi=body.radius_mi,
            alert_categories=body.alert_categories,
        )
    )


# ---------------------------------------------------------------- feed


def _page_ask(default_limit: int) -> Callable[..., Coroutine[Any, Any, timeline.PageAsk]]:
    """A dependency: what the caller asks of his feed, so that the list and its map take
    the same parameters and see the same posts (``limit`` as they choose). ``async``, as
    it reads no database: it takes no threadpool hop."""

    async def page_ask(
        category: Categories = None,
        since: OptionalMoment = None,
        until: OptionalMoment = None,
        cursor: PageCursor = None,
        limit: PageLimit = default_limit,
    ) -> timeline.PageAsk:
        return timeline.PageAsk(category, since, until, cursor, limit)

    return page_ask


@router.get(f"{api}/feed", response_model=FeedPage)
@user_principal
async def read_feed(
    request: Request, ask: Annotated[timeline.PageAsk, Depends(_page_ask(30))]
) -> Response:
    """Posts within the caller's radius, newest first; follow ``next_cursor`` for older."""
    # All its database work in one threadpool hop (``feed.api_page``), written as JSON.
    runtime = get_runtime(request)
    page = await run_in_threadpool(
        api_page.read_page,
        db=runtime.db,
        replicas=runtime.replicas,
        token=required_bearer(request),
        read_after=replicas.parse_lsn(request.cookies.get(replicas.FENCE_COOKIE)),
        ask=ask,
    )
    return Response(page, media_type="application/json")


@router.get(f"{api}/feed/map", response_model=FeedMap)
def feed_map(
    user: CurrentUser,
    session: ReadSession,
    ask: Annotated[timeline.PageAsk, Depends(_page_ask(100))],
) -> FeedMap:
    """The same posts as a GeoJSON FeatureCollection; each geometry is a coarse cell."""
    page = timeline.feed(session=session, viewer=user, ask=ask)
    return FeedMap(features=feed_display.map_features(page.posts), next_cursor=page.next_cursor)


# ---------------------------------------------------------------- posts


@router.post(f"{api}/posts", response_model=PostRead, status_code=status.HTTP_201_CREATED)
def create_post(body: PostCreate, credential: CurrentCredential, session: DbSession) -> PostRead:
    """Post to the feed. Refused with ``behavior_required`` or ``description_too_thin`` by
    the guardrails, and with ``personal_data_warning`` (listing what was found) unless
    ``confirm_personal_data`` is true. An official post speaks for an agency: it needs a
    token issued with a second factor, as every agency action does."""
    user = api_agency_member(session, credential) if body.official else credential.user
    post = feed_service.create_post(
        session=session,
        author=user,
        category=body.category,
        title=body.title,
        body=body.body,
        person=body.person,
        clip_id=body.clip_id,
        latitude=body.latitude,
        longitude=body.longitude,
        official=body.official,
        confirm_personal_data=body.confirm_personal_data,
    )
    return _post_view(session, user, post)


@router.get(f"{api}/users/me/posts", response_model=list[PostRead])
def my_posts(user: CurrentUser, session: ReadSession) -> list[PostRead]:
    """The caller's own posts in every state (held, published, rejected, hidden)."""
    return feed_display.post_views(
        session=session, viewer=user, posts=feed_service.own_posts(session=session, author=user)
    )


@router.get(f"{api}/posts/{{post_id}}", response_model=PostRead)
def get_post(post_id: uuid.UUID, user: CurrentUser, session: ReadSession) -> PostRead:
    post = feed_service.get_post(session=session, actor=user, post_id=post_id)
    return _post_view(session, user, post)


@router.patch(f"{api}/posts/{{post_id}}", response_model=PostRead)
def update_post(
    post_id: uuid.UUID, body: PostUpdate, user: CurrentUser, session: DbSession
) -> PostRead:
    post = feed_service.update_post(session=session, author=user, post_id=post_id, **dict(body))
    return _post_view(session, user, post)


@router.delete(f"{api}/posts/{{post_id}}", status_code=status.HTTP_204_NO_CONTENT)
def delete_post(post_id: uuid.UUID, user: CurrentUser, session: DbSession) -> Response:
    feed_service.delete_post(session=session, author=user, post_id=post_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- comments


@router.get(f"{api}/posts/{{post_id}}/comments", response_model=list[CommentRead])
def list_comments(post_id: uuid.UUID, user: CurrentUser, session: ReadSession) -> list[CommentRead]:
    return feed_comments.comment_views(
        session=session,
        viewer=user,
        comments=feed_comments.list_comments(session=session, viewer=user, post_id=post_id),
    )


@router.post(
    f"{api}/posts/{{post_id}}/comments",
    response_model=CommentRead,
    status_code=status.HTTP_201_CREATED,
)
def add_comment(
    post_id: uuid.UUID, body: CommentCreate, user: CurrentUser, session: DbSession
) -> CommentRead:
    comment = feed_comments.add_comment(
        session=session, author=user, post_id=post_id, body=body.body
    )
    return _comment_view(session, user, comment)


@router.patch(f"{api}/comments/{{comment_id}}", response_model=CommentRead)
def update_comment(
    comment_id: uuid.UUID, body: CommentUpdate, user: CurrentUser, session: DbSession
) -> CommentRead:
    comment = feed_comments.update_comment(
        session=session, author=user, comment_id=comment_id, body=body.body
    )
    return _comment_view(session, user, comment)


@router.delete(f"{api}/comments/{{comment_id}}", status_code=status.HTTP_204_NO_CONTENT)
def delete_comment(comment_id: uuid.UUID, user: CurrentUser, session: DbSession) -> Response:
    feed_comments.delete_comment(session=session, author=user, comment_id=comment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- reports


@router.post(
    f"{api}/posts/{{post_id}}/reports",
    response_model=ReportRead,
    status_code=status.HTTP_201_CREATED,
)
def report_post(
    post_id: uuid.UUID, body: ReportCreate, user: CurrentUser, session: DbSession
) -> ReportRead:
    return ReportRead.model_validate(
        feed_reports.report(
            session=session, reporter=user, post_id=post_id, reason=body.reason, note=body.note
        )
    )


@router.post(
    f"{api}/comments/{{comment_id}}/reports",
    response_model=ReportRead,
    status_code=status.HTTP_201_CREATED,
)
def report_comment(
    comment_id: uuid.UUID, body: ReportCreate, user: CurrentUser, session: DbSession
) -> ReportRead:
    comment = feed_comments.get_comment(session=session, actor=user, comment_id=comment_id)
    return ReportRead.model_validate(
        feed_reports.report(
            session=session,
            reporter=user,
            post_id=comment.post_id,
            comment_id=comment.id,
            reason=body.reason,
            note=body.note,
        )
    )


# ---------------------------------------------------------------- moderation


@router.get(f"{api}/moderation/queue", response_model=list[QueueItem])
def moderation_queue(user: CurrentUser, session: DbSession) -> list[QueueItem]:
    """Reported posts and comments, those reported for profiling first."""
    return [
        feed_reports.queue_item(entry)
        for entry in feed_reports.moderation_queue(session=session, actor=user)
    ]


@router.get(f"{api}/moderation/pending", response_model=list[PostRead])
def pending_posts(user: CurrentUser, session: DbSession) -> list[PostRead]:
    """Posts held for review, oldest first."""
    return feed_display.post_views(
        session=session,
        viewer=user,
        posts=moderation.pending_posts(session=session, actor=user),
    )


@router.get(f"{api}/moderation/settings", response_model=FeedSettingsRead)
def get_settings(user: CurrentUser, session: DbSession) -> FeedSettingsRead:
    moderation.require_moderator(user)
    return FeedSettingsRead.model_validate(feed_service.current_settings(session=session))


@router.put(f"{api}/moderation/settings", response_model=FeedSettingsRead)
def change_settings(
    body: FeedSettingsUpdate, user: CurrentUser, session: DbSession
) -> FeedSettingsRead:
    return FeedSettingsRead.model_validate(
        moderation.change_settings(session=session, actor=user, hold_new_posts=body.hold_new_posts)
    )


@router.post(f"{api}/posts/{{post_id}}/hide", response_model=PostRead)
def hide_post(
    post_id: uuid.UUID, body: ModerationReason, user: CurrentUser, session: DbSession
) -> PostRead:
    post = moderation.hide_post(session=session, actor=user, post_id=post_id, reason=body.reason)
    return _post_view(session, user, post)


@router.post(f"{api}/posts/{{post_id}}/restore", response_model=PostRead)
def restore_post(
    post_id: uuid.UUID, body: ModerationReason, user: CurrentUser, session: DbSession
) -> PostRead:
    post = moderation.restore_post(session=session, actor=user, post_id=post_id, reason=body.reason)
    return _post_view(session, user, post)


@router.post(f"{api}/posts/{{post_id}}/approve", response_model=PostRead)
def approve_post(
    post_id: uuid.UUID, body: ApprovalNote, user: CurrentUser, session: DbSession
) -> PostRead:
    post = moderation.approve_post(session=session, actor=user, post_id=post_id, reason=body.reason)
    return _post_view(session, user, post)


@router.post(f"{api}/posts/{{post_id}}/reject", response_model=PostRead)
def reject_post(
    post_id: uuid.UUID, body: ModerationReason, user: CurrentUser, session: DbSession
) -> PostRead:
    post = moderation.reject_post(session=session, actor=user, post_id=post_id, reason=body.reason)
    return _post_view(session, user, post)


@router.post(f"{api}/posts/{{post_id}}/reports/dismiss", status_code=status.HTTP_204_NO_CONTENT)
def dismiss_post_reports(
    post_id: uuid.UUID, body: ModerationReason, user: CurrentUser, session: DbSession
) -> Response:
    moderation.dismiss_reports(session=session, actor=user, post_id=post_id, reason=body.reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(f"{api}/comments/{{comment_id}}/hide", response_model=CommentRead)
def hide_comment(
    comment_id: uuid.UUID, body: ModerationReason, user: CurrentUser, session: DbSession
) -> CommentRead:
    comment = moderation.hide_comment(
        session=session, actor=user, comment_id=comment_id, reason=body.reason
    )
    return _comment_view(session, user, comment)


@router.post(f"{api}/comments/{{comment_id}}/restore", response_model=CommentRead)
def restore_comment(
    comment_id: uuid.UUID, body: ModerationReason, user: CurrentUser, session: DbSession
) -> CommentRead:
    comment = moderation.restore_comment(
        session=session, actor=user, comment_id=comment_id, reason=body.reason
    )
    return _comment_view(session, user, comment)


@router.post(
    f"{api}/comments/{{comment_id}}/reports/dismiss", status_code=status.HTTP_204_NO_CONTENT
)
def dismiss_comment_reports(
    comment_id: uuid.UUID, body: ModerationReason, user: CurrentUser, session: DbSession
) -> Response:
    comment = feed_comments.get_comment(session=session, actor=user, comment_id=comment_id)
    moderation.dismiss_reports(
        session=session,
        actor=user,
        post_id=comment.post_id,
        comment_id=comment.id,
        reason=body.reason,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- tips


@router.post(
    f"{api}/agencies/{{agency_id}}/tips",
    response_model=TipSent,
    status_code=status.HTTP_201_CREATED,
)
def send_tip(
    agency_id: uuid.UUID, body: TipCreate, user: CurrentUser, session: DbSession
) -> TipSent:
    """A private message to a verified agency. With ``anonymous`` the tip keeps no
    reference to the caller's account: the agency sees none."""
    tip = tips.send_tip(
        session=session,
        sender=user,
        agency_id=agency_id,
        body=body.body,
        post_id=body.post_id,
        anonymous=body.anonymous,
    )
    return TipSent(
        id=tip.id, agency_id=tip.agency_id, anonymous=body.anonymous, created_at=tip.created_at
    )


@router.get(f"{api}/agencies/{{agency_id}}/tips", response_model=list[TipRead])
def agency_tips(agency_id: uuid.UUID, user: AgencyMember, session: DbSession) -> list[TipRead]:
    """The agency's tips, for its verified members with two-factor sign-in."""
    return tips.agency_tips(session=session, actor=user, agency_id=agency_id)


# ---------------------------------------------------------------- media


@router.get("/media/posts/{post_id}/clip.mp4", include_in_schema=False)
def post_clip_video(
    post_id: uuid.UUID, request: Request, user: AnyUser, session: DbSession, runtime: RuntimeDep
) -> Response:
    """A post's clip, for anyone who may read the post, while its owner keeps it shared."""
    post, key = feed_display.post_clip_key(
        session=session, viewer=user, post_id=post_id, thumbnail=False
    )
    return media_response(
        runtime.storage,
        key,
        content_type="video/mp4",
        range_header=request.headers.get("range"),
        filename=f"post-{post.id}.mp4",
    )


@router.get("/media/posts/{post_id}/clip.jpg", include_in_schema=False)
def post_clip_thumbnail(
    post_id: uuid.UUID, user: AnyUser, session: DbSession, runtime: RuntimeDep
) -> Response:
    _post, key = feed_display.post_clip_key(
        session=session, viewer=user, post_id=post_id, thumbnail=True
    )
    return media_response(runtime.storage, key, content_type="image/jpeg", range_header=None)
