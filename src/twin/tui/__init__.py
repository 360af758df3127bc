"""twin.tui"""
