"""Signing key store: files and modes, dev generation, prod refusal, rotation, pruning, reloads."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from joserfc.jwk import ECKey

from hub.auth.keys import KeyStore, KeyStoreError
from hub.config import Settings

RETENTION = timedelta(seconds=900 + 30)


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> KeyStore:
    return KeyStore(tmp_path / "keys", retention=RETENTION, generate_missing=True, clock=clock)


def test_dev_generates_a_private_key_file_on_first_use(tmp_path: Path) -> None:
    store = KeyStore.from_settings(Settings(var_dir=tmp_path / "var", env="dev"))

    signer = store.signing_key()

    directory = tmp_path / "var" / "keys"
    (path,) = directory.iterdir()
    assert path == signer.path
    assert path.name.endswith(f"_{signer.kid}.jwk.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) & 0o077 == 0
    assert signer.kid == ECKey.import_key(json.loads(path.read_text())).thumbprint()
    assert signer.algorithm == "ES256"


def test_prod_without_keys_names_the_directory_and_the_fix(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var", env="prod")

    with pytest.raises(KeyStoreError) as raised:
        KeyStore.from_settings(settings).ensure()

    assert str(settings.signing_keys_dir) in str(raised.value)
    assert "hub keys rotate" in str(raised.value)
    assert not settings.signing_keys_dir.exists()


def test_prod_starts_once_a_key_was_rotated_in(tmp_path: Path) -> None:
    store = KeyStore.from_settings(Settings(var_dir=tmp_path / "var", env="prod"))

    key = store.rotate("RS256")
    store.ensure()

    assert store.signing_key().kid == key.kid
    assert key.algorithm == "RS256"


def test_jwks_publishes_public_parts_only(store: KeyStore) -> None:
    store.rotate("ES256")
    store.rotate("RS256")

    keys = store.jwks()["keys"]

    assert [key["alg"] for key in keys] == ["RS256", "ES256"]  # newest first
    for key in keys:
        assert key["use"] == "sig"
        assert key["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()


def test_rotation_makes_the_new_key_the_signer_and_keeps_the_old_one_verifying(
    store: KeyStore, clock: FakeClock
) -> None:
    old = store.rotate()
    clock.advance(timedelta(hours=1))
    new = store.rotate()

    assert store.signing_key().kid == new.kid
    assert store.verification_key(old.kid) is not None
    assert {key["kid"] for key in store.jwks()["keys"]} == {old.kid, new.kid}
    assert [key.status(clock.now) for key in store.list_keys()] == ["verifying", "signing"]


def test_old_key_leaves_the_jwks_and_is_pruned_after_ttl_plus_leeway(
    store: KeyStore, clock: FakeClock
) -> None:
    old = store.rotate()
    new = store.rotate()

    clock.advance(RETENTION - timedelta(seconds=1))
    assert store.prune() == []
    assert store.verification_key(old.kid) is not None

    clock.advance(timedelta(seconds=2))
    assert [key["kid"] for key in store.jwks()["keys"]] == [new.kid]
    assert store.prune() == [old.kid]
    assert not old.path.exists()
    assert store.verification_key(old.kid) is None
    assert store.signing_key().kid == new.kid


def test_the_signer_is_never_pruned(store: KeyStore, clock: FakeClock) -> None:
    only = store.rotate()
    clock.advance(timedelta(days=365))

    assert store.prune() == []
    assert store.signing_key().kid == only.kid


def test_a_key_rotated_by_another_process_is_found_by_its_kid(tmp_path: Path) -> None:
    server = KeyStore(tmp_path, retention=RETENTION, generate_missing=False)
    cli = KeyStore(tmp_path, retention=RETENTION, generate_missing=False)
    first = cli.rotate()
    assert server.signing_key().kid == first.kid

    second = cli.rotate()
    assert server.verification_key(second.kid) is None  # re-reading is rate-limited
    server.UNKNOWN_KID_RELOAD_SECONDS = 0.0
    assert server.verification_key(second.kid) is not None


def test_the_signer_follows_the_directory_after_the_reload_interval(tmp_path: Path) -> None:
    server = KeyStore(tmp_path, retention=RETENTION, generate_missing=False)
    cli = KeyStore(tmp_path, retention=RETENTION, generate_missing=False)
    first = cli.rotate()
    assert server.signing_key().kid == first.kid

    second = cli.rotate()
    assert server.signing_key().kid == first.kid
    server.RELOAD_SECONDS = 0.0
    assert server.signing_key().kid == second.kid


def test_an_operator_supplied_pem_key_is_used(tmp_path: Path) -> None:
    key = ECKey.generate_key("P-256", private=True)
    (tmp_path / "operator.pem").write_bytes(key.as_pem(private=True))
    store = KeyStore(tmp_path, retention=RETENTION, generate_missing=False)

    signer = store.signing_key()

    assert signer.kid == key.thumbprint()
    assert signer.algorithm == "ES256"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param("20260101T000000000000Z_abcdefgh.jwk.json", "{not json", id="broken-json"),
        pytest.param(
            "20260101T000000000000Z_abcdefgh.jwk.json",
            json.dumps(ECKey.generate_key("P-256").as_dict(private=False)),
            id="public-only",
        ),
        pytest.param("notes.txt", "hello", id="foreign-file"),
    ],
)
def test_unusable_files_are_ignored(tmp_path: Path, name: str, content: str) -> None:
    (tmp_path / name).write_text(content)
    store = KeyStore(tmp_path, retention=RETENTION, generate_missing=False)

    assert store.list_keys() == []
    with pytest.raises(KeyStoreError):
        store.ensure()


def test_rotate_refuses_unknown_algorithms(store: KeyStore) -> None:
    with pytest.raises(KeyStoreError, match="unsupported algorithm"):
        store.rotate("HS256")  # type: ignore[arg-type]
