export { createAddressBook, readAddresses, describeSource, type AddressBook, type AddressBookDeps, type AddressBookStatus, type AddressReading } from './address-book.ts';
