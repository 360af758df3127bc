"""twin.live"""
