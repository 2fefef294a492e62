"""A broker that answers but refuses the URL's password or vhost says so, not "unreachable"."""

from __future__ import annotations

import pytest
from services import amqp_url
from yarl import URL

from hub.broker import AmqpBroker, BrokerError, BrokerErrorCode


async def _connect_error(url: str) -> BrokerError:
    broker = AmqpBroker(url, connect_timeout=10.0)
    with pytest.raises(BrokerError) as caught:
        await broker.connect()
    await broker.close()
    return caught.value


@pytest.mark.rabbitmq
async def test_a_wrong_password_is_a_refused_login() -> None:
    """The broker's ACCESS_REFUSED is ``broker.login_refused``; the password is never echoed."""
    url = URL(amqp_url()).with_password("not-the-password")
    error = await _connect_error(str(url))
    assert error.code is BrokerErrorCode.LOGIN_REFUSED
    assert "not-the-password" not in str(error)


@pytest.mark.rabbitmq
async def test_a_vhost_the_user_may_not_use_is_a_refused_vhost() -> None:
    """The broker's NOT_ALLOWED on opening the vhost is ``broker.vhost_refused``."""
    url = URL(amqp_url()).with_path("/no-such-vhost")
    error = await _connect_error(str(url))
    assert error.code is BrokerErrorCode.VHOST_REFUSED


async def test_no_broker_at_all_is_still_unreachable() -> None:
    """Nothing listening: ``broker.unavailable``, as before."""
    error = await _connect_error("amqp://127.0.0.1:1/case-events")
    assert error.code is BrokerErrorCode.UNAVAILABLE
