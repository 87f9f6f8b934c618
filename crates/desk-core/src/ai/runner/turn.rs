//! One turn: the model call with the scope's context, its reply sent block by block,
//! images, silence and failures.

use super::schedule::refuse;
use super::typing::Typing;
use super::*;

pub(super) async fn run_turn(
    shared: &Arc<Shared>,
    scope: &str,
    mut batch: Vec<Inbound>,
    decided: Option<Context>,
) {
    let Some(first) = batch.first() else { return };
    let (account_id, peer_id) = (first.row.account_id.clone(), first.row.peer_id.clone());
    let ctx = match decided {
        Some(ctx) => ctx,
        None => {
            let ctx = match load_context(&shared.engine, &account_id, &peer_id).await {
                Ok(Some(ctx)) => ctx,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(account_id, error = %e, "AI: cannot load settings");
                    return;
                }
            };
            // Settings may have changed while the turn waited (a takeover, a pause).
            let now = shared.now_ms();
            let moment = Moment {
                peer_id: &peer_id,
                now_ms: now,
                minute_of_day: minute_of_day(now),
                runs_last_hour: None,
            };
            if let Err(skip) = policy::decide(&ctx.global, &ctx.account, &ctx.peer, moment) {
                let newest = batch.iter().map(|i| i.row.id).max().unwrap_or(0);
                refuse(shared, &ctx, &account_id, &peer_id, skip, newest);
                return;
            }
            ctx
        }
    };
    shared.emit(AiEvent::RunStarted {
        account_id: account_id.clone(),
        peer_id: peer_id.clone(),
        inbound: batch.len() as u32,
    });
    let dispatched_ms = shared.now_ms();
    let typing = Typing::start(shared, &account_id, &peer_id);
    if ctx.global.provider.vision {
        await_images(shared, &mut batch).await;
    }
    let outcome = reply(shared, scope, &ctx, &batch).await;
    typing.stop().await;
    match outcome {
        Ok(Replied::Sent { sent, dropped }) => shared.emit(AiEvent::RunFinished {
            account_id: account_id.clone(),
            peer_id: peer_id.clone(),
            messages_sent: sent,
            dropped_chars: dropped,
        }),
        Ok(Replied::Silent(reason)) => {
            tracing::info!(account_id, reason, "AI: chose not to answer");
            shared.emit(AiEvent::NoReply {
                account_id: account_id.clone(),
                peer_id: peer_id.clone(),
                reason,
            });
        }
        Err(reason) => {
            let key = lock(&shared.api_key).clone().flatten();
            let reason = redact(&reason, key.as_ref().map(Secret::expose).as_slice());
            tracing::warn!(account_id, error = %reason, "AI: the provider failed");
            let notice = ctx.account.error_notice.as_deref().map(str::trim);
            // Stopping the app is not the provider's failure: no notice then.
            let notice = notice.filter(|n| !n.is_empty() && !shared.stop.is_cancelled());
            let notice_sent = match notice {
                Some(text) => shared.send(&account_id, &peer_id, text).await,
                None => false,
            };
            shared.emit(AiEvent::RunFailed {
                account_id: account_id.clone(),
                peer_id: peer_id.clone(),
                reason,
                notice_sent,
            });
        }
    }
    if ctx.account.debug {
        let Some(last) = batch.last() else { return };
        let report =
            commands::debug_report(&last.row, last.received_ms, dispatched_ms, shared.now_ms());
        shared.send(&account_id, &peer_id, &report).await;
    }
}

/// For a vision model: waits (bounded by `media_wait`) until the turn's inbound images
/// are downloaded or given up on, then re-reads their rows (with the saved path).
async fn await_images(shared: &Shared, batch: &mut [Inbound]) {
    let pending = |b: &[Inbound]| -> Vec<i64> {
        b.iter()
            .filter(|i| i.row.item_kind == "image" && i.row.media_state == "pending")
            .map(|i| i.row.id)
            .collect()
    };
    if pending(batch).is_empty() {
        return;
    }
    // Subscribe before re-reading, so a download finishing in between is not missed.
    let mut rx = shared.engine.subscribe();
    let deadline = tokio::time::Instant::now() + shared.timings.media_wait;
    loop {
        let ids = pending(batch);
        if ids.is_empty() {
            return;
        }
        let rows = shared
            .engine
            .store()
            .call(move |s| s.ai_messages(&ids))
            .await;
        let Ok(rows) = rows else { return };
        for row in rows.into_values() {
            if let Some(item) = batch.iter_mut().find(|i| i.row.id == row.id) {
                item.row = row;
            }
        }
        if pending(batch).is_empty() {
            return;
        }
        loop {
            let event = tokio::select! {
                () = tokio::time::sleep_until(deadline) => return,
                event = rx.recv() => event,
            };
            match event {
                Ok(EngineEvent::MediaReady { .. } | EngineEvent::MediaFailed { .. })
                | Err(RecvError::Lagged(_)) => break,
                Ok(_) => {}
                Err(RecvError::Closed) => return,
            }
        }
    }
}

/// The messages a turn sends, and the scope's session key.
pub(crate) async fn build_messages(
    engine: &Engine,
    scope: &str,
    ctx: &Context,
    batch: &[Inbound],
    seen_upto: i64,
) -> Result<(Vec<ChatMessage>, String), EngineError> {
    let (account_id, peer_id) = (&batch[0].row.account_id, &batch[0].row.peer_id);
    let batch_ids: Vec<i64> = batch.iter().map(|i| i.row.id).collect();
    let newest = batch_ids.iter().copied().max().unwrap_or(i64::MAX);
    let filter = prompt::history_filter(ctx.account.memory_scope, account_id, peer_id);
    let (scope_key, limit) = (scope.to_owned(), ctx.global.history_messages as usize);
    let keeps_history = ctx.global.provider.keeps_history();
    let notice = ctx.account.error_notice.clone();
    let (memory, rows): (AiMemoryRow, Vec<AiMessageRow>) = engine
        .store()
        .call(move |s| {
            let memory = s.ai_memory(&scope_key)?;
            // Everything said in the scope except this turn's messages and inbound
            // ones waiting for later turns; replies stored after this turn's first
            // message (answers to the previous turn) are history too.
            let slack = limit + batch_ids.len() + 32;
            let rows: Vec<AiMessageRow> = s
                .ai_history(&filter, memory.reset_after_id, i64::MAX, slack)?
                .into_iter()
                .filter(|r| !batch_ids.contains(&r.id))
                .filter(|r| !(r.direction == "in" && r.id > newest))
                .collect();
            // A provider that keeps the conversation gets only what it has not seen.
            let rows = if keeps_history {
                prompt::unseen_by_agent(rows, seen_upto, notice.as_deref())
            } else {
                rows
            };
            Ok((memory, rows.into_iter().take(limit).collect()))
        })
        .await?;
    let mut messages = Vec::new();
    let persona = ctx.peer.persona.as_deref().unwrap_or(&ctx.account.persona);
    let now = engine.clock().now_ms();
    let vars = prompt::PersonaVars {
        peer_name: ctx.peer_name.as_deref().unwrap_or(peer_id),
        peer_note: ctx.peer_note.as_deref().unwrap_or_default(),
        date: &local_date(now),
    };
    let persona = prompt::render_persona(persona, &vars);
    if !persona.trim().is_empty() {
        messages.push(ChatMessage::new("system", persona));
    }
    if !memory.summary.trim().is_empty() {
        messages.push(ChatMessage::new(
            "system",
            format!("对话摘要（之前的内容）：\n{}", memory.summary),
        ));
    }
    messages.extend(prompt::history_messages(
        &rows,
        ctx.global.history_messages,
        ctx.global.history_tokens,
    ));
    let root: Option<PathBuf> = engine.media_root();
    let rows: Vec<AiMessageRow> = batch.iter().map(|i| i.row.clone()).collect();
    messages.push(prompt::user_turn(
        &rows,
        ctx.global.provider.vision,
        |path| {
            let root = root.as_ref()?;
            let full = root.join(path);
            // Only files under the data directory.
            if !full.starts_with(root) || path.contains("..") {
                return None;
            }
            std::fs::read(full).ok()
        },
    ));
    Ok((messages, prompt::session_key(scope, memory.reset_after_id)))
}

/// How a run ended well.
enum Replied {
    /// Messages sent, characters dropped over the cap.
    Sent { sent: u32, dropped: u32 },
    /// The AI chose not to answer, and how that showed.
    Silent(String),
}

/// Streams one reply and sends it; says what was sent (or that the AI chose silence),
/// or why it failed.
async fn reply(
    shared: &Arc<Shared>,
    scope: &str,
    ctx: &Context,
    batch: &[Inbound],
) -> Result<Replied, String> {
    let (account_id, peer_id) = (&batch[0].row.account_id, &batch[0].row.peer_id);
    let newest = batch.iter().map(|i| i.row.id).max().unwrap_or(0);
    let (messages, session_key) =
        build_messages(&shared.engine, scope, ctx, batch, shared.seen_upto(scope))
            .await
            .map_err(|e| e.to_string())?;
    let config = &ctx.global.provider;
    let request = chat_request(config, &messages, &session_key, Some(peer_id), None);
    let key = api_key(shared).await;
    let t = &shared.timings;
    let limits = t.for_preset(config.preset);
    let silence = SilenceRule::new(config, &ctx.global.silence_token);
    let mut stream = shared
        .client
        .stream(config, key, request, limits.first_byte, limits.stall);
    let mut filter = MarkdownFilter::new();
    let split_limit = ctx.global.split_limit as usize;
    let mut blocks = Blocks::new(t.block_min_chars, split_limit, t.max_messages);
    let mut raw = String::new();
    // Nothing is sent while the reply may still be the silence token.
    let mut held = true;
    let mut sent = 0u32;
    let started = tokio::time::Instant::now();
    let deadline = started + limits.run;
    let every = t.still_working_every.max(Duration::from_millis(10));
    let mut still_working = tokio::time::interval_at(started + every, every);
    // `Some(why)`: the AI chose silence.
    let silent = loop {
        let event = tokio::select! {
            biased;
            () = shared.stop.cancelled() => return Err("the app is stopping".into()),
            () = tokio::time::sleep_until(deadline) => {
                return Err(format!("no complete reply within {:?}", limits.run));
            }
            event = stream.events.recv() => event,
            () = tokio::time::sleep(t.block_idle), if !blocks.is_empty() => {
                for block in blocks.flush_idle() {
                    sent += u32::from(shared.send(account_id, peer_id, &block).await);
                }
                continue;
            }
            _ = still_working.tick() => {
                shared.emit(AiEvent::StillWorking {
                    account_id: account_id.clone(),
                    peer_id: peer_id.clone(),
                    elapsed_ms: started.elapsed().as_millis() as u64,
                });
                continue;
            }
        };
        match event {
            Some(StreamEvent::Text(text)) => {
                raw.push_str(&text);
                if held && silence.undecided(&raw) {
                    continue;
                }
                let piece = if held { raw.clone() } else { text };
                held = false;
                for block in blocks.push(&filter.push(&piece)) {
                    sent += u32::from(shared.send(account_id, peer_id, &block).await);
                }
            }
            Some(StreamEvent::Done { .. }) => {
                if held && silence.is_silent(&raw) {
                    break Some(if raw.trim().is_empty() {
                        "the reply was empty".to_owned()
                    } else {
                        format!("the reply was the silence token {:?}", raw.trim())
                    });
                }
                if held {
                    // A beginning of the token that went on no further: a reply after all.
                    for block in blocks.push(&filter.push(&raw)) {
                        sent += u32::from(shared.send(account_id, peer_id, &block).await);
                    }
                }
                break None;
            }
            Some(StreamEvent::Failed(e)) if held && silence.is_silent_failure(&e) => {
                break Some(format!("the gateway reported a turn without a reply ({e})"));
            }
            Some(StreamEvent::Failed(e)) => return Err(e.to_string()),
            None => return Err("the provider stream ended unexpectedly".into()),
        }
    };
    drop(stream);
    if config.keeps_history() {
        shared.mark_seen(scope, newest);
    }
    if let Some(reason) = silent {
        return Ok(Replied::Silent(reason));
    }
    blocks.push(&filter.finish());
    let (rest, dropped) = blocks.finish();
    for block in rest {
        sent += u32::from(shared.send(account_id, peer_id, &block).await);
    }
    if dropped > 0 {
        tracing::info!(
            account_id,
            dropped_chars = dropped,
            "AI: the reply exceeded the message cap; the rest was cut"
        );
    }
    send_images(shared, account_id, peer_id, &raw).await;
    Ok(Replied::Sent {
        sent,
        dropped: dropped as u32,
    })
}

async fn send_images(shared: &Shared, account_id: &str, peer_id: &str, raw: &str) {
    let links = image_links(raw);
    if links.is_empty() {
        return;
    }
    for url in links {
        let fetched = fetch_image(
            &shared.image_http,
            &url,
            shared.timings.image_max_bytes,
            shared.timings.stall_timeout,
            shared.allow_private_images,
        )
        .await;
        let image = match fetched {
            Ok(image) => image,
            Err(e) => {
                tracing::warn!(account_id, error = %e, "AI: reply image not fetched");
                continue;
            }
        };
        let name = image.file_name();
        if let Err(e) = shared
            .engine
            .send_ai_image(account_id, peer_id, &name, image.bytes)
            .await
        {
            tracing::warn!(account_id, error = %e, "AI: reply image not queued");
        }
    }
}
