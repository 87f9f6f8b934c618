//! Streaming decryption of untrusted ciphertext in arbitrary chunks never panics, agrees
//! with one-shot decryption, and re-encrypts to the same ciphertext when it succeeds.

#![no_main]

use ilink::crypto::{self, AesKey, Decryptor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, cipher)) = data.split_first_chunk::<17>() else {
        return;
    };
    let key: AesKey = head[..16].try_into().expect("16 bytes");
    let chunk = usize::from(head[16]).max(1);

    let mut dec = Decryptor::new(&key);
    let mut plain = Vec::new();
    for piece in cipher.chunks(chunk) {
        dec.update(piece, &mut plain);
    }
    let streamed = dec.finish(&mut plain).map(|()| plain);
    assert_eq!(streamed, crypto::decrypt(&key, cipher));
    if let Ok(plain) = streamed {
        assert_eq!(crypto::encrypt(&key, &plain), cipher);
    }
});
