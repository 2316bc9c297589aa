//! Per (topic, group) message request mode, PULL or POP, set with `SET_MESSAGE_REQUEST_MODE`
//! (mqadmin `setConsumeMode`) and read by queue assignment (`service/assignment.rs`). Persisted to
//! `config/messageRequestMode.json` in the shape Java's `MessageRequestModeManager` writes; every
//! change is written before it is visible, as for topics and groups.

use std::path::PathBuf;

use ferromq_remoting::body::assignment::{
    MessageRequestModeWrapper, SetMessageRequestModeRequestBody,
};
use ferromq_remoting::body::JsonBody;
use parking_lot::Mutex;

use crate::error::BrokerError;
use crate::persist;

/// The request-mode table.
#[derive(Debug)]
pub struct RequestModes {
    table: Mutex<MessageRequestModeWrapper>,
    path: PathBuf,
}

impl RequestModes {
    /// Loads `path` (absent: no modes set).
    ///
    /// # Errors
    /// An unreadable or corrupt file.
    pub fn open(path: PathBuf) -> Result<Self, BrokerError> {
        let table = match persist::read_optional(&path)? {
            None => MessageRequestModeWrapper::default(),
            Some(bytes) => MessageRequestModeWrapper::from_json(&bytes).map_err(|e| {
                BrokerError::CorruptFile {
                    path: path.clone(),
                    detail: e.to_string(),
                }
            })?,
        };
        Ok(Self {
            table: Mutex::new(table),
            path,
        })
    }

    /// The mode set for `group` on `topic`, if any.
    #[must_use]
    pub fn get(&self, topic: &str, group: &str) -> Option<SetMessageRequestModeRequestBody> {
        self.table
            .lock()
            .message_request_mode_map
            .get(topic)
            .and_then(|groups| groups.get(group))
            .cloned()
    }

    /// Every mode set, by topic and group.
    #[must_use]
    pub fn all(&self) -> MessageRequestModeWrapper {
        self.table.lock().clone()
    }

    /// Sets (replaces) the mode of `mode.consumer_group` on `mode.topic`.
    ///
    /// # Errors
    /// The file cannot be written (the table is left unchanged).
    pub fn set(&self, mode: SetMessageRequestModeRequestBody) -> Result<(), BrokerError> {
        let mut table = self.table.lock();
        let mut next = table.clone();
        next.message_request_mode_map
            .entry(mode.topic.clone())
            .or_default()
            .insert(mode.consumer_group.clone(), mode);
        self.publish(&mut table, next)
    }

    /// Replaces the whole table with a master's (a replica mirroring it); nothing is written when
    /// it did not change.
    ///
    /// # Errors
    /// The body does not parse, or the file cannot be written.
    pub fn replace_from_json(&self, json: &[u8]) -> Result<(), BrokerError> {
        let next = MessageRequestModeWrapper::from_json(json)
            .map_err(|e| BrokerError::BadBody(e.to_string()))?;
        let mut table = self.table.lock();
        if *table == next {
            return Ok(());
        }
        self.publish(&mut table, next)
    }

    fn publish(
        &self,
        table: &mut MessageRequestModeWrapper,
        next: MessageRequestModeWrapper,
    ) -> Result<(), BrokerError> {
        persist::write_atomic(&self.path, &next.to_json())?;
        *table = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use ferromq_remoting::body::assignment::MessageRequestMode;

    use super::*;

    #[test]
    fn modes_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config").join("messageRequestMode.json");
        let m = RequestModes::open(path.clone()).expect("opens");
        assert_eq!(m.get("T", "g"), None);
        m.set(SetMessageRequestModeRequestBody {
            topic: "T".into(),
            consumer_group: "g".into(),
            mode: Some(MessageRequestMode::Pop),
            pop_share_queue_num: 2,
        })
        .expect("sets");
        let again = RequestModes::open(path).expect("reopens");
        let got = again.get("T", "g").expect("kept");
        assert_eq!(got.mode, Some(MessageRequestMode::Pop));
        assert_eq!(got.pop_share_queue_num, 2);
        assert_eq!(again.get("T", "other"), None);
    }
}
