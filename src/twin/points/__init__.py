"""twin.points"""
