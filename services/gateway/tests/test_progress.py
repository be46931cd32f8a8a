"""The progress registry: watches reach their streams, and none outlives its stream."""

import gc

from popchoice_gateway.progress import ProgressListener


def test_announcements_reach_the_watches_of_that_recommendation():
    listener = ProgressListener()
    with listener.watch("a") as first, listener.watch("b") as other:
        listener._notified(None, 0, "recommendation_progress", "a processing embedding -")
        assert (first.status, first.stage, first.changed.is_set()) == ("processing", "embedding", True)
        assert not other.changed.is_set()
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
