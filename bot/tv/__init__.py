"""The TV board: a team's live leaderboard for an office screen, behind a per-team key."""
