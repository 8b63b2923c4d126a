"""WeCom callback crypto (企业微信 回调加解密), written on `cryptography`.

AESKey = b64decode(EncodingAESKey + "="), AES-256-CBC with IV = AESKey[:16], PKCS#7 padding to a
multiple of 32 bytes (not 16), plaintext = random(16) + len(msg) as 4 bytes big-endian + msg + receive
id (the CorpID for a self-built app), and msg_signature = sha1 of the sorted token, timestamp, nonce and
ciphertext. wechatpy and Tencent's WXBizMsgCrypt sample serve as oracles in the tests only.

Every failure is a `CallbackRejected` whose `status` says how the HTTP answer should look: 401 when the
sender cannot prove it is WeCom (signature, receive id), 400 when the payload itself is malformed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32
RANDOM_BYTES = 16
LENGTH_BYTES = 4
ENCODING_AES_KEY_LENGTH = 43


class CallbackRejected(Exception):
    """A callback we refuse; `status` is the HTTP status, `reason` a short machine-readable word."""

    status = 400

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason


class BadSignature(CallbackRejected):
    status = 401


class WrongReceiver(CallbackRejected):
    """Decrypted fine but addressed to another corp: someone else's message, or a forgery."""

    status = 401


class BadCiphertext(CallbackRejected):
    status = 400


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """`msg_signature`: sha1 over the four strings sorted and concatenated, as lowercase hex."""
    joined = "".join(sorted([token, timestamp, nonce, encrypt]))
    return hashlib.sha1(joined.encode()).hexdigest()


def pad(data: bytes) -> bytes:
    """PKCS#7 to a multiple of 32: always 1..32 bytes of padding, each holding the padding length."""
    count = BLOCK - len(data) % BLOCK
    return data + bytes([count]) * count


def unpad(data: bytes) -> bytes:
    """Strict PKCS#7 (block 32): a wrong count or inconsistent padding bytes are refused, not guessed."""
    if not data:
        raise BadCiphertext("bad_padding", "empty plaintext")
    count = data[-1]
    if not 1 <= count <= BLOCK or count > len(data) or data[-count:] != bytes([count]) * count:
        raise BadCiphertext("bad_padding", "the plaintext's PKCS#7 padding is invalid")
    return data[:-count]


class WeComCrypto:
    """One app's callback crypto: its Token, EncodingAESKey and receive id (the CorpID)."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if len(encoding_aes_key) != ENCODING_AES_KEY_LENGTH:
            raise ValueError("EncodingAESKey must be 43 characters")
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error:
            raise ValueError("EncodingAESKey is not base64") from None
        if len(key) != 32:
            raise ValueError("EncodingAESKey must decode to 32 bytes")
        self.token = token
        self.receive_id = receive_id
        # WeCom's IV is the key's first 16 bytes, so one Cipher serves every message (each still gets its
        # own single-use encryptor or decryptor).
        self._cipher = Cipher(algorithms.AES(key), modes.CBC(key[:16]))

    # ----- signatures ---------------------------------------------------------------------------------

    def sign(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return signature(self.token, timestamp, nonce, encrypt)

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        expected = self.sign(timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected.encode(), msg_signature.lower().encode()):
            raise BadSignature("bad_signature", "msg_signature does not match")

    # ----- AES ----------------------------------------------------------------------------------------

    def encrypt(self, message: bytes, random16: bytes | None = None) -> str:
        """Base64 ciphertext of one message, framed as WeCom expects."""
        random16 = os.urandom(RANDOM_BYTES) if random16 is None else random16
        if len(random16) != RANDOM_BYTES:
            raise ValueError("the random prefix must be 16 bytes")
        plain = random16 + len(message).to_bytes(LENGTH_BYTES, "big") + message + self.receive_id.encode()
        encryptor = self._cipher.encryptor()
        return base64.b64encode(encryptor.update(pad(plain)) + encryptor.finalize()).decode("ascii")

    def decrypt(self, encrypt: str) -> bytes:
        """The message inside a ciphertext; refuses bad base64, padding, framing and receive id."""
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise BadCiphertext("bad_base64", "Encrypt is not valid base64") from None
        if not raw or len(raw) % 16:
            raise BadCiphertext("bad_ciphertext", "ciphertext length is not a multiple of 16")
        decryptor = self._cipher.decryptor()
        plain = unpad(decryptor.update(raw) + decryptor.finalize())
        if len(plain) < RANDOM_BYTES + LENGTH_BYTES:
            raise BadCiphertext("bad_frame", "plaintext shorter than its header")
        body = plain[RANDOM_BYTES:]
        length = int.from_bytes(body[:LENGTH_BYTES], "big")
        if LENGTH_BYTES + length > len(body):
            raise BadCiphertext("bad_frame", "message length exceeds the plaintext")
        message = body[LENGTH_BYTES : LENGTH_BYTES + length]
        receiver = body[LENGTH_BYTES + length :]
        if not hmac.compare_digest(receiver, self.receive_id.encode()):
            raise WrongReceiver("wrong_receiver", "the message is addressed to another corp id")
        return message

    # ----- the two callback shapes ---------------------------------------------------------------------

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> bytes:
        """URL verification: the plaintext of `echostr`, to be returned exactly as it is."""
        self.verify(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def decrypt_message(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> bytes:
        """A POSTed message: the signature is checked over the ciphertext before decrypting anything."""
        self.verify(msg_signature, timestamp, nonce, encrypt)
        return self.decrypt(encrypt)
