"""Network structure: layer specs, ``Network``, ``QuantPlan``, importers/exporters, running a network."""
