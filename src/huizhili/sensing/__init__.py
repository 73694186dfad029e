"""Sensing (神经元感知): devices, observations and their rollups, vital signs and early warning."""
