//! What each scenario does on one target while it is measured.

use super::*;

pub(super) async fn body(
    scenario: Scenario,
    target: &mut Target,
    settings: &Settings,
    digests: &mut DigestCache,
) -> Result<Measured> {
    let c = settings.concurrency;
    let d = settings.duration;
    let max = settings.max_requests;
    let reg = target.reg.clone();
    match scenario {
        Scenario::PushBlob => {
            let seed = big_seed(settings, false);
            let digest = digests.get(seed, settings.blob_size);
            let repo = settings.repo("blob");
            let t = Instant::now();
            oci::push_random_whole(&reg, &repo, seed, settings.blob_size, &digest).await?;
            let m = Measured::throughput(settings.blob_size, t.elapsed(), 2);
            target.big = Some(BigBlob { repo, digest });
            Ok(m)
        }
        Scenario::PushBlobChunked => {
            let seed = big_seed(settings, true);
            let digest = digests.get(seed, settings.blob_size);
            let repo = settings.repo("blob");
            let t = Instant::now();
            let requests = oci::push_random_chunked(
                &reg,
                &repo,
                seed,
                settings.blob_size,
                settings.chunk_size,
                &digest,
            )
            .await?;
            let mut m = Measured::throughput(settings.blob_size, t.elapsed(), requests);
            m.extra
                .insert("chunk_bytes".into(), json!(settings.chunk_size));
            Ok(m)
        }
        Scenario::PullBlob => {
            let big = target
                .big
                .clone()
                .ok_or_else(|| anyhow!("no blob to pull"))?;
            let t = Instant::now();
            let bytes = oci::pull_verify(&reg, &big.repo, &big.digest).await?;
            let mut m = Measured::throughput(bytes, t.elapsed(), 1);
            m.note = Some("sha256 verified".into());
            Ok(m)
        }
        Scenario::PushImages => {
            let repo = Arc::new(settings.repo("img"));
            let next = target.next_image.clone();
            let seed = settings.seed;
            let requests = Arc::new(AtomicU64::new(0));
            let req2 = requests.clone();
            let out = timed_loop(
                c,
                Duration::from_secs(3600).max(d),
                settings.images,
                1,
                move |_, _| {
                    let reg = reg.clone();
                    let repo = repo.clone();
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let requests = req2.clone();
                    async move {
                        let image = oci::small_image(seed, index);
                        let n = oci::push_image(&reg, &repo, &format!("i{index}"), &image).await?;
                        requests.fetch_add(n, Ordering::Relaxed);
                        Ok(0)
                    }
                },
            )
            .await;
            let ops = out.ops;
            let mut m = Measured::from_loop("images/s", out, c);
            if ops > 0 {
                m.extra.insert(
                    "requests_per_image".into(),
                    json!(round3(requests.load(Ordering::Relaxed) as f64 / ops as f64)),
                );
            }
            Ok(m)
        }
        Scenario::GetManifest | Scenario::HeadManifest | Scenario::HeadBlob => {
            let f = target
                .fixture
                .clone()
                .ok_or_else(|| anyhow!("no fixture"))?;
            let f = Arc::new(f);
            let out = timed_loop(c, d, max, 1, move |_, _| {
                let reg = reg.clone();
                let f = f.clone();
                async move {
                    match scenario {
                        Scenario::GetManifest => {
                            oci::get_manifest(&reg, &f.repo, &f.tag).await?;
                        }
                        Scenario::HeadManifest => {
                            if !oci::head_manifest(&reg, &f.repo, &f.tag).await? {
                                bail!("manifest not found");
                            }
                        }
                        _ => {
                            let scope = pull_scope(&f.repo);
                            if !oci::blob_exists(&reg, &f.repo, &f.layer, &scope).await? {
                                bail!("blob not found");
                            }
                        }
                    }
                    Ok(0)
                }
            })
            .await;
            Ok(Measured::from_loop("req/s", out, c))
        }
        Scenario::TagsList => {
            let repo = settings.repo("tags");
            let mut extra = Map::new();
            let (whole, pages) = target
                .tags_check
                .clone()
                .ok_or_else(|| anyhow!("tags not checked"))?;
            extra.insert("tags_returned".into(), json!(whole.items));
            extra.insert("requests_per_list".into(), json!(whole.pages));
            extra.insert("paged_total".into(), json!(pages.items));
            extra.insert("pages".into(), json!(pages.pages));
            extra.insert("largest_page".into(), json!(pages.largest));
            let url = Arc::new(reg.url(&format!("/v2/{repo}/tags/list"))?);
            let scope = Arc::new(pull_scope(&repo));
            let out = timed_loop(c, d, max, 1, move |_, _| {
                let reg = reg.clone();
                let url = url.clone();
                let scope = scope.clone();
                async move {
                    // The whole list: one request, or more if the registry pages it.
                    let mut next = Some((*url).clone());
                    for _ in 0..100_000 {
                        let Some(u) = next.take() else { break };
                        next = get_page_raw(&reg, &scope, &u).await?;
                    }
                    Ok(0)
                }
            })
            .await;
            let mut m = Measured::from_loop("lists/s", out, c);
            m.extra = extra;
            check_listing(
                &mut m,
                whole.items,
                &pages,
                settings.tags,
                settings.page_size,
                "tags",
            );
            Ok(m)
        }
        Scenario::TagsListPaged | Scenario::CatalogPaged => {
            let (first, scope, expected) = if scenario == Scenario::TagsListPaged {
                let repo = settings.repo("tags");
                (
                    format!("/v2/{repo}/tags/list?n={}", settings.page_size),
                    pull_scope(&repo),
                    settings.tags,
                )
            } else {
                (
                    format!("/v2/_catalog?n={}", settings.page_size),
                    CATALOG_SCOPE.to_owned(),
                    settings.repos,
                )
            };
            let pages = if scenario == Scenario::TagsListPaged {
                target.tags_check.clone().map(|(_, paged)| paged)
            } else {
                target.catalog_check.clone()
            }
            .ok_or_else(|| anyhow!("listing not checked"))?;
            let first = Arc::new(reg.url(&first)?);
            let scope = Arc::new(scope);
            let cursors: Arc<Vec<Mutex<Option<Url>>>> =
                Arc::new((0..c).map(|_| Mutex::new(None)).collect());
            let out = timed_loop(c, d, max, 1, move |w, _| {
                let reg = reg.clone();
                let scope = scope.clone();
                let cursors = cursors.clone();
                let url = cursors
                    .get(w)
                    .and_then(|m| m.lock().ok().and_then(|mut g| g.take()))
                    .unwrap_or_else(|| (*first).clone());
                async move {
                    let (_, next) = get_page(&reg, &scope, &url).await?;
                    if let Some(slot) = cursors.get(w)
                        && let Ok(mut g) = slot.lock()
                    {
                        *g = next;
                    }
                    Ok(0)
                }
            })
            .await;
            let mut m = Measured::from_loop("pages/s", out, c);
            m.extra.insert("pages_per_walk".into(), json!(pages.pages));
            m.extra.insert("items_per_walk".into(), json!(pages.items));
            m.extra.insert("largest_page".into(), json!(pages.largest));
            if scenario == Scenario::TagsListPaged {
                check_listing(
                    &mut m,
                    pages.items,
                    &pages,
                    expected,
                    settings.page_size,
                    "tags",
                );
            } else if pages.items < expected {
                m.note = Some(format!(
                    "catalog lists {} repositories, fewer than the {expected} seeded",
                    pages.items
                ));
            } else if pages.largest > settings.page_size as u64 {
                m.note = Some(format!(
                    "n={} not honoured: a page had {} entries",
                    settings.page_size, pages.largest
                ));
            }
            Ok(m)
        }
        Scenario::Token => {
            let creds = target.token_creds.clone();
            let scope = Arc::new(pull_scope(&settings.repo("img")));
            let out = timed_loop(c, d, max, 1, move |_, _| {
                let reg = reg.clone();
                let creds = creds.clone();
                let scope = scope.clone();
                async move {
                    let creds = creds.as_ref();
                    reg.fetch_token(creds, Some(&scope)).await?;
                    Ok(0)
                }
            })
            .await;
            let mut m = Measured::from_loop("req/s", out, c);
            if let Some(c) = &target.token_creds {
                m.extra.insert("account".into(), json!(c.user));
            }
            Ok(m)
        }
        Scenario::Mix => {
            let f = Arc::new(
                target
                    .fixture
                    .clone()
                    .ok_or_else(|| anyhow!("no fixture"))?,
            );
            let repo = Arc::new(settings.repo("mix"));
            let next = target.next_image.clone();
            let seed = settings.seed;
            let out = timed_loop(c, d, max, 2, move |_, seq| {
                let reg = reg.clone();
                let f = f.clone();
                let repo = repo.clone();
                let roll = random::mix(seed ^ seq.wrapping_mul(0x2545_F491_4F6C_DD1D)) % 100;
                let index = (roll >= 90).then(|| next.fetch_add(1, Ordering::Relaxed));
                async move {
                    match index {
                        None if roll < 45 => {
                            oci::get_manifest(&reg, &f.repo, &f.tag).await?;
                            Ok(0)
                        }
                        None => {
                            let scope = pull_scope(&f.repo);
                            if !oci::blob_exists(&reg, &f.repo, &f.layer, &scope).await? {
                                bail!("blob not found");
                            }
                            Ok(0)
                        }
                        Some(index) => {
                            let image = oci::small_image(seed, index);
                            oci::push_image(&reg, &repo, &format!("m{index}"), &image).await?;
                            Ok(1)
                        }
                    }
                }
            })
            .await;
            let mut pushes = out.lat.get(1).cloned().unwrap_or_default();
            let reads = out.lat.first().map(Latencies::len).unwrap_or(0);
            let mut m = Measured::from_loop("ops/s", out, c);
            m.extra.insert("reads".into(), json!(reads));
            m.extra.insert("pushes".into(), json!(pushes.len()));
            if let Some(s) = pushes.summary() {
                m.extra
                    .insert("push_p50_ms".into(), json!(round3(s.p50_ms)));
                m.extra
                    .insert("push_p99_ms".into(), json!(round3(s.p99_ms)));
            }
            m.extra.insert(
                "latency_is".into(),
                json!("reads only; pushes in push_p50/p99"),
            );
            Ok(m)
        }
    }
}
