//! Exchange hot paths: signing one ES256 JWT and one HMAC, parsing a full 250-account
//! Coinbase page (SPEC §8 budget: < 1 ms) and a dYdX subaccount.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde_json::json;

use recon::exchanges::coinbase::{parse_accounts_page, CdpKey, JwtSigner};
use recon::exchanges::coinbase_exchange::sign;
use recon::exchanges::dydx::parse_subaccount;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const KEY_NAME: &str =
    "organizations/00000000-0000-4000-8000-000000000000/apiKeys/00000000-0000-4000-8000-000000000001";
const URI: &str = "GET api.coinbase.com/api/v3/brokerage/accounts";

fn coinbase_page_250() -> Vec<u8> {
    let accounts: Vec<_> = (0..250)
        .map(|i| {
            let currency = ["BTC", "ETH", "USDC", "SOL", "DOGE"][i % 5];
            json!({
                "uuid": format!("00000000-0000-4000-8000-{i:012}"),
                "name": format!("{currency} Wallet"),
                "currency": currency,
                "available_balance": {"value": format!("{i}.0001672322761103"), "currency": currency},
                "default": true, "active": true,
                "created_at": "2023-01-04T06:20:06.456Z", "updated_at": "2024-11-12T08:41:52.690Z",
                "deleted_at": null, "type": "ACCOUNT_TYPE_CRYPTO", "ready": true,
                "hold": {"value": "0.00074863", "currency": currency},
                "retail_portfolio_id": "11111111-2222-4333-8444-555555555555",
                "platform": "ACCOUNT_PLATFORM_CONSUMER"
            })
        })
        .collect();
    serde_json::to_vec(
        &json!({"accounts": accounts, "has_next": true, "cursor": "789100", "size": 250}),
    )
    .expect("serialisable")
}

fn bench(c: &mut Criterion) {
    let es256 = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let signer = JwtSigner::new(KEY_NAME.into(), CdpKey::Es256(es256));
    c.bench_function("sign ES256 JWT", |b| {
        b.iter(|| {
            signer.token(
                black_box(URI),
                1_732_492_800,
                "0123456789abcdef0123456789abcdef",
            )
        })
    });

    let secret: Vec<u8> = (0u8..64).collect();
    c.bench_function("sign Coinbase Exchange HMAC", |b| {
        b.iter(|| sign(black_box(&secret), "1732492800", "GET", "/accounts", ""))
    });

    let page = coinbase_page_250();
    c.bench_function("parse Coinbase page (250 accounts)", |b| {
        b.iter(|| parse_accounts_page(black_box(&page)))
    });

    let sub = std::fs::read(format!("{FIXTURES}/dydx/subaccount_usdc_short.json"))
        .expect("fixture dydx/subaccount_usdc_short.json");
    c.bench_function("parse dYdX subaccount", |b| {
        b.iter(|| parse_subaccount(black_box(&sub)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
