"""Reflect padding's index rule, shared by every D of the recipe and by the Rust side (src/degrade/blur.rs)."""


def reflect_index(i: int, n: int) -> int:
    """Mirror an out-of-range index without repeating the edge, folding as often as needed (as the Rust side)."""
    if n == 1:
        return 0
    period = 2 * (n - 1)
    i = i % period
    return i if i < n else period - i
