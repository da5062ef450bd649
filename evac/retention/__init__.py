"""After a disaster: purging and anonymising personal data that is no longer needed."""
