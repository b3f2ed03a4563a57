"""Channel adapters: one per channel, all behind :class:`bots.base.ChannelAdapter`."""
