require ["imap4flags", "copy"];
addflag "\\Seen";
redirect :copy "copy@example.test";
