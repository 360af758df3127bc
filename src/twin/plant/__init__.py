"""twin.plant"""
