"""twin.devices"""
