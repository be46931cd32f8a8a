"""PopChoice recommender: quizzes in, picks out; and the similarity calibration tool."""
