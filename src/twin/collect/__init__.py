"""twin.collect"""
