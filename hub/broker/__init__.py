"""The broker room: topology as data, a RabbitMQ broker and an in-memory one.

``base`` holds the :class:`~hub.broker.base.Broker` protocol, the message values
and the error type; ``topology`` the exchanges and queues of ARCHITECTURE section
7 as data; ``amqp`` and ``memory`` the two implementations; ``asyncapi`` the
generated description of the interface (docs/asyncapi.yaml).
"""
