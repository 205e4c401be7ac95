"""loss-tutor: see how a GPT model's training loss is computed."""
