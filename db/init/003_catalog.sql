-- Normalised TMDB metadata: people, genres and keywords keyed by their TMDB ids.
CREATE TABLE IF NOT EXISTS catalog_people (
    tmdb_id       integer PRIMARY KEY CHECK (tmdb_id > 0),
    name          text    NOT NULL,
    profile_path  text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS catalog_genres (
    tmdb_id     integer PRIMARY KEY CHECK (tmdb_id > 0),
    name        text    NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS catalog_keywords (
    tmdb_id     integer PRIMARY KEY CHECK (tmdb_id > 0),
    name        text    NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS movie_people (
    movie_id   bigint  NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    person_id  integer NOT NULL REFERENCES catalog_people (tmdb_id) ON DELETE CASCADE,
    role       text    NOT NULL CHECK (role IN ('cast', 'director')),
    "order"    integer NOT NULL DEFAULT 0 CHECK ("order" >= 0),
    character  text,
    PRIMARY KEY (movie_id, person_id, role)
);
CREATE INDEX IF NOT EXISTS movie_people_person_idx ON movie_people (person_id);

CREATE TABLE IF NOT EXISTS movie_genres (
    movie_id  bigint  NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    genre_id  integer NOT NULL REFERENCES catalog_genres (tmdb_id) ON DELETE CASCADE,
    PRIMARY KEY (movie_id, genre_id)
);
CREATE INDEX IF NOT EXISTS movie_genres_genre_idx ON movie_genres (genre_id);

CREATE TABLE IF NOT EXISTS movie_keywords (
    movie_id    bigint  NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    keyword_id  integer NOT NULL REFERENCES catalog_keywords (tmdb_id) ON DELETE CASCADE,
    PRIMARY KEY (movie_id, keyword_id)
);
CREATE INDEX IF NOT EXISTS movie_keywords_keyword_idx ON movie_keywords (keyword_id);
