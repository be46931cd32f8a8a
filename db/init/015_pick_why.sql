-- Why each pick was made (the constraints it meets, the film it is close to, what gave way), stored
-- with the pick and returned by the API as `why`.
ALTER TABLE recommendation_movies ADD COLUMN IF NOT EXISTS why text;
