-- Movie memory and feedback on picks (issue #13, parts 7-9): the indexes their reads use.
-- The tables themselves are db/init/006's (recommendation_feedback, user_movie_interactions).

-- The memory list, newest first, one page at a time (optionally one kind).
CREATE INDEX IF NOT EXISTS user_movie_interactions_user_updated_idx
    ON user_movie_interactions (user_id, updated_at DESC, id DESC);

-- The trainer's deck of well-known films: the most voted catalog films first.
CREATE INDEX IF NOT EXISTS movies_vote_count_idx ON movies (vote_count DESC NULLS LAST, id);

-- The popularity preference and the "close" anchors are read from a person's feedback by kind
-- (recommendation_feedback_user_idx, db/init/006); undoing feedback finds the memory it wrote by
-- the recommendation it came from.
CREATE INDEX IF NOT EXISTS user_movie_interactions_source_idx
    ON user_movie_interactions (source_recommendation_id) WHERE source_recommendation_id IS NOT NULL;
