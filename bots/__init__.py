"""Channel adapters: one per channel, all behind :class:`gateway.channel.ChannelAdapter`."""
