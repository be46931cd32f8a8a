"""The ranking's weights, in one place, with their defaults and what each one does.

A candidate's score is a weighted sum of terms that each lie in [0, 1] (see ``ranking.film_score``):

- ``quiz_similarity``: the cosine between the quiz text and the film's text, divided by the
  embedding model's observed ceiling, so that a strong match is near 1 whatever the model;
- ``anchor_similarity``: the best cosine between the film and an anchor film's own embedding (the
  favourite, resolved to a catalog row, and the person's liked films), same scale;
- ``genre_overlap``: the share of the wanted genres (from the moods) the film has, blended with the
  genre Jaccard between the film and the favourite film;
- ``tone_fit``: how close the film's lightness is to the person's tone (1 without a tone);
- ``rating``: the film's score out of 10, shrunk towards 6.5 when few people voted;
- ``recency``: for an era that prefers recent years ("new"), how recent the film is within it;
- ``popularity``: the person's popularity preference (feedback too_obvious / too_obscure, in
  (-1, 1), see ``memory.popularity_lean``) times how well known the film is (log of its votes,
  rescaled to [-1, 1]): 0 for anyone who never said a pick was too obvious or too obscure.

An anchor film the person only found ``close`` (feedback) is a weak anchor: the anchor term of a
film nearest to it is ``close_anchor`` × its similarity to that film + the rest × its quiz term.

``wrong_mood`` is subtracted for a film the person marked as the wrong mood before. The diversity
step (maximal marginal relevance) then trades ``diversity`` of each pick's score for its distance
to the picks already made, so six picks are not one franchise.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RankingWeights:
    """Weights of the score's terms and of the diversity step."""

    quiz_similarity: float = 0.20
    anchor_similarity: float = 0.25
    genre_overlap: float = 0.35
    tone_fit: float = 0.10
    rating: float = 0.10
    recency: float = 0.05
    #: Times the popularity preference (-1..1) times the film's popularity (-1..1).
    popularity: float = 0.15
    #: The share of a weak ("close") anchor's similarity in the anchor term (a liked film's is 1).
    close_anchor: float = 0.5
    #: Subtracted for a film the person marked wrong_mood.
    wrong_mood: float = 0.15
    #: Maximal marginal relevance: the weight of relevance against novelty (1 = relevance only).
    diversity: float = 0.75
    #: Picks of one franchise (same title without subtitle and sequel number) while other films remain.
    per_franchise: int = 2
    #: Share of the favourite's genres (Jaccard) in genre_overlap; the rest is the moods' coverage.
    favorite_genre_share: float = 0.7
    #: An anchor this similar (on the same scale as quiz_similarity) is named in a pick's "why".
    anchor_named_from: float = 0.6


DEFAULT_WEIGHTS = RankingWeights()
