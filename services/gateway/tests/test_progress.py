"""The progress registry: watches reach their streams, and none outlives its stream."""

import gc
import time

from popchoice_gateway.progress import ProgressListener


def test_announcements_reach_the_watches_of_that_recommendation():
    listener = ProgressListener()
    first, other = listener.open_watch("a"), listener.open_watch("b")
    listener._notified(None, 0, "recommendation_progress", "a processing embedding -")
    assert (first.status, first.stage, first.changed.is_set()) == ("processing", "embedding", True)
    assert not other.changed.is_set()
    listener.unwatch("a", first)
    listener.unwatch("b", other)
    assert listener.watched() == 0


def test_a_watch_nobody_holds_leaves_the_registry():
    """A stream whose client left before it started never unwatches; dropping it is enough."""
    listener = ProgressListener()
    watch = listener.open_watch("a")
    kept = listener.open_watch("a")
    assert listener.watched() == 1
    del watch
    gc.collect()
    assert listener.watched() == 1  # kept still watches
    listener.unwatch("a", kept)
    assert listener.watched() == 0
    listener.open_watch("b")  # not even bound to a name
    gc.collect()
    assert listener.watched() == 0


def test_new_recommendations_are_watched_until_their_stream_takes_them():
    listener = ProgressListener()
    listener.watch_new("a", slug="slug-a", user_id=None)
    listener._notified(None, 0, "recommendation_progress", "a completed complete -")
    new = listener.take_new("a")
    assert new is not None and new.slug == "slug-a" and new.state() == ("completed", "complete")
    assert listener.take_new("a") is None  # one stream takes it
    listener.unwatch("a", new.watch)
    assert listener.watched() == 0


def test_untaken_new_watches_expire_and_failed_creations_are_forgotten():
    listener = ProgressListener(new_ttl_seconds=0.05)
    listener.watch_new("a", slug="slug-a", user_id=None)
    streaming = listener.take_new("a")
    assert streaming.state() == ("pending", "queued")  # nothing announced yet
    listener.watch_new("b", slug="slug-b", user_id=None)
    listener.watch_new("c", slug="slug-c", user_id=None)
    listener.forget_new("c")
    time.sleep(0.1)
    assert listener.take_new("b") is None  # expired
    listener.watch_new("d", slug="slug-d", user_id=None)  # creating sweeps expired ones
    assert listener.watched() == 2  # a (still held by its stream) and d
