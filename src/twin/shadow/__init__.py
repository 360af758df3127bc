"""The shadow plant: the site's own plant model stepped beside the measured plant.

Each tick it takes the measured boundary conditions (IT power, outdoor air,
setpoints) from what the collector read, steps the same equipment code the
simulator and the annual study use, and computes, through the same device
bindings the simulated gear serves, the value every registry point *should*
read. :mod:`twin.live.residuals` then judges measured against modelled.

The shadow sits at the composition root's level: it imports the plant and the
device bindings (the simulated side) and is fed plain numbers by name, so the
reading side never imports the plant.
"""
