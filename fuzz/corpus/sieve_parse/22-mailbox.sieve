require ["fileinto", "mailbox"];
if mailboxexists "INBOX" { fileinto :create "Created/Sub"; }
if mailboxexists "NoSuchBox" { fileinto "wrong"; }
