"""portal/cache.py keeps one redis.Redis per connection pool (Django builds one per cache call)."""

from portal.cache import ResilientRedisCache


def test_resilient_cache__one_client_per_pool__reused_by_every_call(redis_url: str) -> None:
    cache = ResilientRedisCache(redis_url, {"KEY_PREFIX": "test-client-reuse", "OPTIONS": {}})
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=True) is client
    assert cache._cache.get_client(write=False) is client  # one server: reads use the same pool
    try:
        cache.set("key", {"value": 1})
        assert cache.get("key") == {"value": 1}
        assert cache._cache.get_client(write=True) is client
    finally:
        cache.delete("key")
