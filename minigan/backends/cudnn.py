"""torch.backends.cudnn's switches. minigan's GPU kernels are its own (no cuDNN), so these are plain
attributes that scripts may set (`cudnn.benchmark = True`) and nothing reads."""
benchmark = False
deterministic = False
enabled = True


def is_available():
    return False
