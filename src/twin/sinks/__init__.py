"""twin.sinks"""
