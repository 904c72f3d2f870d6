"""mechlearn.rl — bandits to PPO on gymnasium environments (03_reinforcement_learning/)."""
